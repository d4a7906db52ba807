"""A project folder that is copied or moved keeps working (issue 15 item 7): the champion loads from the new place and a
new training run writes its artifacts under the new folder, not the old one, which may be gone."""
import shutil
from pathlib import Path

from housing.config import MODEL_NAME
from housing.tracking import client, configure, load_model


def _artifact_files(root):
    return sorted(p.relative_to(root).as_posix() for p in (root/'mlartifacts').rglob('*') if p.is_file())


def test_a_moved_project_serves_its_champion_and_trains_into_its_own_folder(store, tmp_path, housing_frame):
    import mlflow
    from housing import train
    from housing.trust import DIGEST_TAG
    before = store['pipeline'].predict(store['X'])
    a, b = tmp_path/'a', tmp_path/'b'
    shutil.copytree(store['root'], a)  # a copy while the original still exists ...
    configure(f"sqlite:///{a/'mlflow.db'}", 'trust-tests')  # ... is pointed at its own folder, not the original's
    old_files = _artifact_files(store['root'])
    shutil.copytree(a, b); shutil.rmtree(a)  # ... then moved: the copy's first place is gone
    uri = f"sqlite:///{b/'mlflow.db'}"

    champion = load_model(f'models:/{MODEL_NAME}@champion', uri)
    assert (champion.pipeline.predict(store['X']) == before).all()

    run = train.start_run('linear', uri, 'trust-tests')
    result = train.fit_evaluate('linear', seed=4, cv_folds=0, data=housing_frame.iloc[:2000])
    version = train.log_result(result)
    train.end_run()
    c = client(uri)
    info = c.get_run(run.info.run_id).info
    assert info.artifact_uri == (b/'mlartifacts'/run.info.run_id/'artifacts').as_uri()
    assert c.get_experiment(info.experiment_id).artifact_location == (b/'mlartifacts').as_uri()
    assert c.get_model_version(MODEL_NAME, version).tags.get(DIGEST_TAG)  # its files were read back (and hashed) from there
    assert not a.exists(), 'the old place was created again'
    assert _artifact_files(store['root']) == old_files, 'the original project received files of the copy'
    here = (b/'mlartifacts').as_uri() + '/'
    for v in (version, store['version']):  # the new model's files, and the old one's as MLflow itself now finds them
        location = c.get_model_version_download_uri(MODEL_NAME, v)
        assert location.startswith(here), location
        assert (Path(mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(tmp_path/v)))/'MLmodel').is_file()
    new = load_model(f'models:/{MODEL_NAME}/{version}', uri)
    assert new.version == version and new.pipeline.predict(store['X']).shape == (5,)
