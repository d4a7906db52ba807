"""Fixtures for the monitoring tests: the champion's reference, simulated logs, a real API and Streamlit on loopback."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0, ok=(200,)) -> None:
    "Poll `url` until it answers one of `ok`, the process dies, or `timeout` passes"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f'process exited with {proc.returncode} before {url} answered')
        try:
            if httpx.get(url, timeout=2).status_code in ok: return
        except httpx.TransportError: pass
        time.sleep(0.5)
    raise TimeoutError(f'{url} did not answer within {timeout:.0f} s')


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try: proc.wait(timeout=15)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(timeout=10)


@pytest.fixture(scope='session')
def reference(trained_store):
    "The champion's reference: training split, held-out split, its test-set predictions, ranges, the model"
    from housing.monitor import load_reference
    return load_reference(model_uri=trained_store['model_uri'], cache=False)  # loads the pipeline; writes no cache


@pytest.fixture(scope='session')
def simulated_log(tmp_path_factory, reference):
    "A prediction log holding 3,000 income_shift rows written by the simulator's --direct path"
    from housing.simulate import simulate
    path = tmp_path_factory.mktemp('log')/'predictions.db'
    simulate(3000, 'income_shift', direct=True, seed=3, prediction_log=path, reference=reference, quiet=True)
    return path


@pytest.fixture(scope='session')
def api_server(trained_store, tmp_path_factory):
    "The real API (`housing.api.serve`) on a loopback port, serving the fixture champion; yields (url, log path)"
    pytest.importorskip('housing.api')
    log = tmp_path_factory.mktemp('api')/'predictions.db'
    port = free_port()
    env = dict(os.environ, MLFLOW_TRACKING_URI=trained_store['tracking_uri'], HOUSING_PREDICTION_LOG=str(log),
               HOUSING_MODEL_URI=trained_store['model_uri'])
    env.pop('HOUSING_API_KEY', None)
    errors = open(log.parent/'api.err', 'w')
    proc = subprocess.Popen([sys.executable, '-c', f"from housing.api import serve; serve(port={port}, log_level='warning')"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    url = f'http://127.0.0.1:{port}'
    try:
        wait_http(f'{url}/ready', proc)
        yield url, log
    finally:
        stop(proc); errors.close()


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: the full calibration grid (minutes); CI runs it, `-m "not slow"` skips it')
