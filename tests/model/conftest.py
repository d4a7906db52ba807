"""Model-test fixtures: the real 80/20 split and a small geographic model fitted on it (a few seconds)."""
import pytest

SMALL_GEO = {'n_estimators': 300, 'learning_rate': 0.1}  # lightgbm_geo, ~10x faster than the catalogue default


@pytest.fixture(scope='session')
def split(housing_frame):
    from housing.data import split_train_test
    return split_train_test(housing_frame, seed=42)


@pytest.fixture(scope='session')
def geo_model(split):
    from housing.models import make_model
    X_train, _, y_train, _ = split
    return make_model('lightgbm_geo', SMALL_GEO).fit(X_train, y_train)
