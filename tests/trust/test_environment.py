"""Environment comparison at load (issue 10 item 7): a library pinned at another major.minor version becomes a readable
mismatch; HOUSING_REQUIREMENTS_MISMATCH=refuse refuses the model."""
import pytest

from housing.config import MODEL_NAME
from housing.tracking import ModelRefused, load_model

from .conftest import register_dir, save_linear


@pytest.fixture(scope='module')
def old_sklearn_version(store, tmp_path_factory):
    d = save_linear(store, tmp_path_factory.mktemp('old')/'m', pip_requirements=['scikit-learn==0.24.2', 'numpy==1.19.5'])
    return f'models:/{MODEL_NAME}/{register_dir(store, d)}'


def test_other_library_versions_are_listed_and_the_model_loads_by_default(store, old_sklearn_version, monkeypatch):
    from importlib.metadata import version
    monkeypatch.delenv('HOUSING_REQUIREMENTS_MISMATCH', raising=False)
    lm = load_model(old_sklearn_version, store['uri'])
    assert lm.environment_mismatches == [f"scikit-learn 0.24.2 at training, {version('scikit-learn')} installed",
                                         f"numpy 1.19.5 at training, {version('numpy')} installed"]


def test_refuse_setting_refuses_the_model(store, old_sklearn_version, monkeypatch):
    monkeypatch.setenv('HOUSING_REQUIREMENTS_MISMATCH', 'refuse')
    with pytest.raises(ModelRefused, match='trained with other library versions \\(scikit-learn 0.24.2 at training'):
        load_model(old_sklearn_version, store['uri'])
    assert load_model(f'models:/{MODEL_NAME}@champion', store['uri']).environment_mismatches == []  # same versions: loads


def test_the_setting_is_checked(monkeypatch):
    from housing.config import get_settings
    from housing.errors import InputError
    with pytest.raises(InputError, match="HOUSING_REQUIREMENTS_MISMATCH='maybe': expected one of warn, refuse"):
        get_settings({'HOUSING_REQUIREMENTS_MISMATCH': 'maybe'})
