"""Fixtures for the API tests: the test store's champion loaded once, apps around it, clean API settings."""
import pytest
from fastapi.testclient import TestClient

from api_support import clean_api_env  # noqa: F401 - autouse: each test starts from default API settings


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes more than a few seconds beyond the fast suite')


@pytest.fixture(scope='session')
def loaded_model(trained_store):
    "The test store's champion as `housing.tracking.load_model` returns it"
    from housing.tracking import load_model
    return load_model(trained_store['model_uri'], trained_store['tracking_uri'])


@pytest.fixture
def make_client(loaded_model, tmp_path):
    "Factory of started TestClients around `create_app(model=<champion>, prediction_log=<tmp>, **kw)`"
    from housing.api import create_app
    started = []
    def make(**kw):
        kw.setdefault('model', loaded_model)
        kw.setdefault('prediction_log', tmp_path/'log.db')
        c = TestClient(create_app(**kw), raise_server_exceptions=False)
        c.__enter__(); started.append(c)
        return c
    yield make
    for c in started: c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture(scope='session')
def sample_rows(housing_frame):
    "200 real rows as dicts"
    from housing.data import FEATURES
    return [dict(zip(FEATURES, map(float, r))) for r in housing_frame[FEATURES].to_numpy()[:200]]
