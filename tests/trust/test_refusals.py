"""Only skops loads, only the registered files, only the catalogue's types (issue 10 item 1): tampered models registered
into a real store are each refused with a reason, and a payload that would create a file leaves no file."""
import os
from pathlib import Path

import numpy as np
import pytest

from housing.config import MODEL_NAME
from housing.tracking import ModelRefused, describe_model, load_model
from housing.trust import DIGEST_TAG

from .conftest import payload, register_dir, save_linear, stored_files, with_payload


def test_a_model_trained_by_housing_train_is_sealed_and_loads(store):
    card = describe_model(f"models:/{MODEL_NAME}/{store['version']}", store['uri'])
    assert len(card.version_tags[DIGEST_TAG]) == 64
    lm = load_model(f'models:/{MODEL_NAME}@champion', store['uri'])
    np.testing.assert_array_equal(lm.pipeline.predict(store['X']), store['pipeline'].predict(store['X']))
    assert lm.environment_mismatches == []
    assert 'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' not in os.environ  # no process-wide permission was switched on


def test_no_module_switches_on_pickle_deserialization():
    import housing
    pkg = Path(housing.__file__).parent
    assert not [f.name for f in pkg.glob('*.py') if 'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' in f.read_text()]


@pytest.mark.parametrize('fmt', ['pickle', 'cloudpickle'])
def test_pickle_formats_are_refused_naming_the_uri_and_the_format(store, tmp_path, fmt):
    version = register_dir(store, save_linear(store, tmp_path/'m', serialization_format=fmt))
    uri = f'models:/{MODEL_NAME}/{version}'
    with pytest.raises(ModelRefused, match=f"{uri} is serialized as '{fmt}': only 'skops' models are loaded"):
        load_model(uri, store['uri'])


def test_a_file_changed_after_registration_is_refused(store, tmp_path):
    version = register_dir(store, save_linear(store, tmp_path/'m'))
    uri = f'models:/{MODEL_NAME}/{version}'
    assert load_model(uri, store['uri']).version == version
    f = stored_files(store, version)/'model.skops'
    f.write_bytes(f.read_bytes().replace(b'schema.json', b'schema.jsoN', 1))
    with pytest.raises(ModelRefused, match='its files changed after registration'):
        load_model(uri, store['uri'])


def test_a_model_registered_without_a_digest_is_refused(store, tmp_path):
    version = register_dir(store, save_linear(store, tmp_path/'m'), digest=False)
    with pytest.raises(ModelRefused, match=f'no sha256 of its files was recorded at registration \\(tag {DIGEST_TAG}\\)'):
        load_model(f'models:/{MODEL_NAME}/{version}', store['uri'])


@pytest.mark.parametrize('module,function', [('builtins', 'eval'), ('posix', 'system')])
def test_a_payload_whose_mlmodel_trusts_it_is_refused_and_creates_no_file(store, tmp_path, module, function):
    target = tmp_path/'pwned'
    model_dir = with_payload(save_linear(store, tmp_path/'m'), payload(target, module, function), [f'{module}.{function}'])
    version = register_dir(store, model_dir)   # registered with a valid digest: the files are exactly these
    with pytest.raises(ModelRefused, match=f"does not trust for model 'linear': {module}.{function}"):
        load_model(f'models:/{MODEL_NAME}/{version}', store['uri'])
    assert not target.exists()


def test_the_payload_is_live_under_mlflows_own_loader(store, tmp_path):
    "The control: MLflow's loader trusts the types listed in the file, so the same artifact runs its code"
    import mlflow.sklearn
    target = tmp_path/'pwned'
    model_dir = with_payload(save_linear(store, tmp_path/'m'), payload(target), ['builtins.eval'])
    mlflow.sklearn.load_model(str(model_dir))
    assert target.exists()


class Shady:
    "A type no catalogue model holds"
    def __init__(self): self.x = 1
    def fit(self, X, y=None): return self
    def transform(self, X): return X


def test_a_custom_type_outside_the_catalogue_is_refused(store, tmp_path):
    import mlflow.sklearn
    from sklearn.pipeline import Pipeline
    pipe = Pipeline([('shady', Shady()), *store['pipeline'].steps])
    mlflow.sklearn.save_model(pipe, str(tmp_path/'m'), serialization_format='skops', metadata={'model': 'linear'},
                              skops_trusted_types=[f'{__name__}.Shady', 'housing.features.RatioFeatures'])
    version = register_dir(store, tmp_path/'m')
    with pytest.raises(ModelRefused, match=f"does not trust for model 'linear': {__name__}.Shady"):
        load_model(f'models:/{MODEL_NAME}/{version}', store['uri'])


def test_a_model_claiming_an_unknown_catalogue_name_is_refused(store, tmp_path):
    import yaml
    d = save_linear(store, tmp_path/'m')
    mlmodel = yaml.safe_load((d/'MLmodel').read_text()); mlmodel['metadata']['model'] = 'anything'
    (d/'MLmodel').write_text(yaml.safe_dump(mlmodel))
    version = register_dir(store, d)
    with pytest.raises(ModelRefused, match="unknown model 'anything'"):
        load_model(f'models:/{MODEL_NAME}/{version}', store['uri'])


def test_exported_models_get_the_same_checks(store, tmp_path):
    import json
    from housing.tracking import export_model
    dest = export_model(f'models:/{MODEL_NAME}@champion', tmp_path/'model', store['uri'])
    reg = json.loads((dest/'registry.json').read_text())
    assert reg['sha256'] == describe_model(f'models:/{MODEL_NAME}@champion', store['uri']).version_tags[DIGEST_TAG]
    assert load_model(str(dest)).version == store['version']
    (dest/'conda.yaml').write_text((dest/'conda.yaml').read_text() + '\n# changed\n')
    with pytest.raises(ModelRefused, match='its files changed after registration'):
        load_model(str(dest))
    plain = save_linear(store, tmp_path/'plain')  # an MLflow model directory that no registry vouched for
    with pytest.raises(ModelRefused, match='no sha256 of its files was recorded'):
        load_model(str(plain))


def test_export_refuses_a_pickled_version_and_writes_nothing(store, tmp_path):
    from housing.tracking import export_model
    version = register_dir(store, save_linear(store, tmp_path/'m', serialization_format='pickle'))
    with pytest.raises(ModelRefused, match="serialized as 'pickle'"):
        export_model(f'models:/{MODEL_NAME}/{version}', tmp_path/'out', store['uri'])
    assert not (tmp_path/'out').exists()


def test_every_catalogue_model_holds_only_its_declared_types(housing_frame):
    import skops.io as sio
    from housing.data import FEATURES, TARGET
    from housing.models import CATALOGUE, catalogue_trusted_types, make_model
    small = {'random_forest': {'n_estimators': 3}, 'gradient_boosting': {'n_estimators': 3}, 'hist_gradient_boosting': {'max_iter': 3},
             'lightgbm': {'n_estimators': 3}, 'lightgbm_geo': {'n_estimators': 3}, 'xgboost_geo': {'n_estimators': 3},
             'catboost_geo': {'iterations': 3}, 'blend': {'lightgbm_geo__n_estimators': 3, 'catboost_geo__iterations': 3}}
    df = housing_frame.iloc[:1500]
    for name in CATALOGUE:
        m = make_model(name, small.get(name, {})).fit(df[FEATURES], df[TARGET])
        found = set(sio.get_untrusted_types(data=sio.dumps(m)))
        assert found <= set(catalogue_trusted_types(name)), (name, found - set(catalogue_trusted_types(name)))
