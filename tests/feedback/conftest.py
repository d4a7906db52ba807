"""Fixtures for the feedback tests: the real `housing serve` on a loopback port with an API key, and its prediction log."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'api'))  # api_support: the `housing serve` process helper

KEY = 'feedback-test-key'


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes more than a minute (the 20-seed calibration)')


@pytest.fixture(scope='module')
def server(trained_store, tmp_path_factory):
    "`housing serve` with HOUSING_API_KEY set, serving the test store's champion; its log is `server.log`"
    from api_support import Server
    s = Server(trained_store, tmp_path_factory.mktemp('feedback')/'log.db', env={'HOUSING_API_KEY': KEY})
    try:
        s.wait_ready()
        yield s
    finally: s.stop()


@pytest.fixture
def api(server):
    "An httpx client of the server, with the API key"
    import httpx
    with httpx.Client(base_url=f'http://127.0.0.1:{server.port}', headers={'X-API-Key': KEY}, timeout=30) as c: yield c


@pytest.fixture(scope='session')
def reference(trained_store):
    "The champion's reference (training and held-out split, the model)"
    from housing.samples import load_reference
    return load_reference(model_uri=trained_store['model_uri'], cache=False)
