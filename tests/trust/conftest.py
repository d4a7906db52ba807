"""Trust-test fixtures: a temporary store holding a `linear` model trained and registered by `housing.train`, and helpers
that register tampered models into it the way an attacker with write access to the artifacts (not the code) could."""
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from housing.config import MODEL_NAME

TINY_ROWS = 3000


@pytest.fixture(scope='session')
def store(tmp_path_factory, housing_frame):
    "A fresh store with version 1: `linear` trained, logged and registered by `housing.train` (digest recorded), promoted"
    from housing import train
    from housing.tracking import promote_best
    d = tmp_path_factory.mktemp('store')
    uri = f"sqlite:///{d/'mlflow.db'}"
    run = train.start_run('linear', uri, 'trust-tests')
    result = train.fit_evaluate('linear', seed=3, cv_folds=0, data=housing_frame.iloc[:TINY_ROWS])
    result.metrics['cv_rmse_mean'] = 0.6
    version = train.log_result(result)
    train.end_run()
    promote_best(tracking_uri=uri, data_sha256='')
    return dict(uri=uri, root=d, version=version, run_id=run.info.run_id, pipeline=result.pipeline,
                X=result.X_test.iloc[:5].to_numpy())


def stored_files(store: dict, version: str) -> Path:
    "The folder in the store's artifacts holding the files of registered `version`"
    from housing.tracking import _local_artifacts, client
    return _local_artifacts(client(store['uri']).get_model_version_download_uri(MODEL_NAME, version), store['uri'])


def register_dir(store: dict, model_dir: Path, digest: bool = True) -> str:
    "Register a hand-made model directory as a new version (its digest recorded, as if registration were genuine)"
    import mlflow
    from housing.tracking import client, configure
    from housing.trust import DIGEST_TAG, model_digest
    configure(store['uri'], 'trust-tests')
    with mlflow.start_run(run_name='tampered') as run:
        mlflow.set_tag('model', 'linear')
        mlflow.log_artifacts(str(model_dir), 'model')
    mv = mlflow.register_model(f'runs:/{run.info.run_id}/model', MODEL_NAME)
    if digest: client(store['uri']).set_model_version_tag(MODEL_NAME, str(mv.version), DIGEST_TAG, model_digest(stored_files(store, str(mv.version))))
    return str(mv.version)


def save_linear(store: dict, dest: Path, **kw) -> Path:
    "The store's fitted `linear` pipeline saved as an MLflow model directory (skops unless told otherwise)"
    import mlflow.sklearn
    from housing.models import trusted_types
    kw.setdefault('serialization_format', 'skops')
    if kw['serialization_format'] == 'skops': kw.setdefault('skops_trusted_types', trusted_types(store['pipeline']))
    mlflow.sklearn.save_model(store['pipeline'], str(dest), metadata={'model': 'linear'}, **kw)
    return dest


def payload(target: Path, module: str = 'builtins', function: str = 'eval') -> dict:
    "A skops schema whose loading calls `module.function(code)`, where the code creates `target`"
    code = f"open({str(target)!r}, 'w').close()" if function == 'eval' else f'touch {target}'
    arg = {'__class__': 'str', '__module__': 'builtins', '__loader__': 'JsonNode', 'content': json.dumps(code), 'is_json': True, '__id__': 2}
    return {'__class__': function, '__module__': module, '__loader__': 'ConstructorFromReduceNode', '__id__': 1, 'protocol': 2,
            '_skops_version': '0.16.0', 'content': {'__class__': 'tuple', '__module__': 'builtins', '__loader__': 'TupleNode',
                                                    'content': [arg], '__id__': 3}}


def with_payload(model_dir: Path, schema: dict, trusted: list[str]) -> Path:
    "Replace the skops file of `model_dir` by `schema` and list `trusted` in its MLmodel, as a crafted artifact would"
    import yaml
    with zipfile.ZipFile(model_dir/'model.skops', 'w') as z: z.writestr('schema.json', json.dumps(schema))
    mlmodel = yaml.safe_load((model_dir/'MLmodel').read_text())
    mlmodel['flavors']['sklearn']['skops_trusted_types'] = trusted
    (model_dir/'MLmodel').write_text(yaml.safe_dump(mlmodel))
    return model_dir


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
