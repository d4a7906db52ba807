"""The store: a typo in MLFLOW_TRACKING_URI is named instead of creating an empty store (issue 15 item 8), a moved store
still loads its champion (item 7), training runs say where they come from (item 6), and exports never wipe a folder
that is not an exported model (issue 10 item 8)."""
import shutil

import pytest

from housing.cli import main
from housing.config import MODEL_NAME
from housing.tracking import StoreNotFound, client, describe_model, load_model, promote_best


def test_a_missing_store_is_named_and_not_created(tmp_path, monkeypatch):
    typo = f"sqlite:///{tmp_path/'mlfow.db'}"
    for call in (lambda: describe_model(None, typo), lambda: load_model(None, typo), lambda: promote_best(tracking_uri=typo)):
        with pytest.raises(StoreNotFound, match=f'no MLflow store at {typo} \\(the file does not exist\\): check MLFLOW_TRACKING_URI'):
            call()
    assert not (tmp_path/'mlfow.db').exists()


@pytest.mark.parametrize('verb', [['promote'], ['status']])
def test_the_cli_says_so_and_creates_nothing(tmp_path, monkeypatch, capsys, verb):
    monkeypatch.setenv('MLFLOW_TRACKING_URI', f"sqlite:///{tmp_path/'mlfow.db'}")
    rc = main(verb)
    out = capsys.readouterr()
    assert 'no MLflow store at sqlite:///' in out.err + out.out, out
    assert rc in (0, 2) and not (tmp_path/'mlfow.db').exists()


def test_a_moved_store_loads_its_champion_from_the_new_place(store, tmp_path):
    before = load_model(f'models:/{MODEL_NAME}@champion', store['uri']).pipeline.predict(store['X'])
    moved = tmp_path/'elsewhere'
    shutil.copytree(store['root'], moved)
    shutil.move(store['root']/'mlartifacts', store['root']/'mlartifacts.away')  # the recorded absolute paths now lead nowhere
    try:
        lm = load_model(f'models:/{MODEL_NAME}@champion', f"sqlite:///{moved/'mlflow.db'}")
        assert (lm.pipeline.predict(store['X']) == before).all()
    finally:
        shutil.move(store['root']/'mlartifacts.away', store['root']/'mlartifacts')


def test_training_runs_name_their_notebook_and_describe_themselves(store):
    c = client(store['uri'])
    run = c.get_run(store['run_id'])
    assert run.data.tags['mlflow.source.name'] == 'nbs/pipelines/train.ipynb'
    assert run.data.tags['mlflow.source.type'] == 'NOTEBOOK'
    assert run.data.tags['mlflow.note.content'].startswith('Training run of catalogue model `linear`, seed 3, commit ')
    assert c.get_experiment(run.info.experiment_id).tags['mlflow.experimentKind'] == 'custom_model_development'


def test_export_model_refuses_a_non_empty_destination_without_force(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('MLFLOW_TRACKING_URI', store['uri'])
    work = tmp_path/'work'; work.mkdir(); (work/'notes.txt').write_text('precious')
    assert main(['export-model', str(work)]) == 2
    assert 'exists and is not empty: choose a new directory, or pass --force' in capsys.readouterr().err
    assert main(['export-model', str(work), '--force']) == 2
    assert 'does not look like an exported model (no MLmodel and registry.json): not deleting it, even with --force' in capsys.readouterr().err
    assert (work/'notes.txt').read_text() == 'precious'
    assert main(['export-model', str(tmp_path/'model')]) == 0
    assert main(['export-model', str(tmp_path/'model')]) == 2
    assert main(['export-model', str(tmp_path/'model'), '--force']) == 0   # an earlier export is replaced
    assert load_model(str(tmp_path/'model')).version == store['version']
