"""Several workers agree: one coherent /metrics, one log, and a reload that reaches every worker within 10 s."""
import re
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from api_support import Server, get_json, hammer, post_bytes, requests_cycle
from housing.logquery import read_predictions

ADMIN = 'workers-admin-token'


@pytest.fixture
def store_copy(trained_store, tmp_path):
    "A copy of the test store (same artifacts), whose champion alias this test may move"
    dst = tmp_path/'mlflow.db'
    shutil.copy(Path(trained_store['tracking_uri'].removeprefix('sqlite:///')), dst)
    return {**trained_store, 'tracking_uri': f'sqlite:///{dst}'}


def metrics_text(port) -> str:
    return urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10).read().decode()  # nosec B310: loopback


def workers_on(text: str, version: str) -> int:
    "How many workers report serving `version` (one `housing_model_info` series per worker pid)"
    return sum(1 for line in text.splitlines()
               if line.startswith('housing_model_info{') and f'version="{version}"' in line and line.endswith(' 1.0'))


def counter(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(' ', 1)[1]) for line in text.splitlines() if line.startswith(prefix))


@pytest.mark.slow
def test_two_workers_under_load_agree_on_metrics_log_and_a_reload(store_copy, tmp_path, sample_rows):
    s = Server(store_copy, tmp_path/'log.db', '--workers', '2', env={'HOUSING_ADMIN_TOKEN': ADMIN, 'HOUSING_RELOAD_CHECK_SECONDS': '1'})
    v1 = store_copy['version']
    try:
        s.wait_ready(timeout=400)
        t = time.monotonic()
        while workers_on(metrics_text(s.port), v1) < 2 and time.monotonic() - t < 300: time.sleep(0.5)
        assert workers_on(metrics_text(s.port), v1) == 2, metrics_text(s.port)[-3000:]
        results = {}
        load = threading.Thread(target=lambda: results.update(answers=hammer(
            s.port, [requests_cycle(s.port, '/predict', sample_rows[k:k + 40], 250) for k in range(8)])))
        load.start()
        time.sleep(1.0)
        from housing.tracking import client
        c = client(store_copy['tracking_uri'])
        mv = c.get_model_version('california-housing', v1)
        v2 = str(c.create_model_version('california-housing', mv.source, run_id=mv.run_id).version)
        from housing.trust import DIGEST_TAG  # the same files: registration records their digest, the loader checks it
        c.set_model_version_tag('california-housing', v2, DIGEST_TAG, mv.tags[DIGEST_TAG])
        c.set_registered_model_alias('california-housing', 'champion', v2)
        t_reload = time.monotonic()
        (st, body), = hammer(s.port, [[post_bytes(s.port, '/model/reload', b'', {'Authorization': f'Bearer {ADMIN}'})]])
        assert st == 200 and body['version'] == v2, body
        while workers_on(metrics_text(s.port), v2) < 2 and time.monotonic() - t_reload < 30: time.sleep(0.2)
        spread = time.monotonic() - t_reload
        load.join()
        after = hammer(s.port, [list(requests_cycle(s.port, '/predict', sample_rows[:20], 20)) for _ in range(4)])
        time.sleep(0.5)
        text = metrics_text(s.port)
        st_ready, ready = get_json(s.port, '/ready')
    finally: s.stop()
    answers = results['answers'] + after
    assert [st for st, _ in answers if st != 200] == []
    print(f'\n2 workers: {len(answers)} predictions, 0 errors; reload reached both workers in {spread:.2f} s')
    assert spread < 10
    assert {b['model_version'] for _, b in after} == {v2}
    assert workers_on(text, v2) == 2 and workers_on(text, v1) == 0
    log = read_predictions(tmp_path/'log.db')
    assert len(log) == len(answers) and set(log.request_id) == {b['request_id'] for _, b in answers}
    assert counter(text, 'housing_requests_total{route="/predict",status="200"}') == len(answers)
    assert counter(text, 'housing_request_latency_seconds_count{route="/predict"}') == len(answers)
    assert re.search(r'housing_model_loaded(\{[^}]*\})? 1\.0', text)
    assert st_ready == 200 and ready['model_version'] == v2
