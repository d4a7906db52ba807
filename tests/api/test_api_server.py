"""The real server: `housing serve` on a loopback port, under concurrent load, during a reload, and killed mid-load."""
import json
import signal
import sqlite3
import threading
import time

import pytest

from api_support import Server, get_json, hammer, post_bytes, requests_cycle
from housing.logquery import read_predictions, read_requests
from housing.validation import EXAMPLE_ROW

ADMIN = 'test-admin-token'


@pytest.fixture(scope='module')
def server(trained_store, tmp_path_factory):
    s = Server(trained_store, tmp_path_factory.mktemp('serve')/'log.db', env={'HOUSING_ADMIN_TOKEN': ADMIN})
    try:
        s.wait_ready()
        yield s
    finally: s.stop()


def bodies(port, rows, n, path='/predict'):
    return requests_cycle(port, path, rows, n)


def test_housing_serve_answers_every_route(server, trained_store):
    st, health = get_json(server.port, '/health')
    assert st == 200 and health['model_loaded'] is True
    st, ready = get_json(server.port, '/ready')
    assert st == 200 and ready['ready'] is True and ready['prediction_log']['path'] == str(server.log)
    (status, body), = hammer(server.port, [[post_bytes(server.port, '/predict', json.dumps(EXAMPLE_ROW).encode())]])
    assert status == 200 and body['model_version'] == trained_store['version']
    (status, body), = hammer(server.port, [[post_bytes(server.port, '/predict/batch', json.dumps({'instances': [EXAMPLE_ROW] * 5}).encode())]])
    assert status == 200 and body['rows'] == 5
    st, info = get_json(server.port, '/model/info')
    assert st == 200 and info['run_id'] == trained_store['run_id']
    import urllib.request
    text = urllib.request.urlopen(f'http://127.0.0.1:{server.port}/metrics').read().decode()  # nosec B310: loopback
    assert 'housing_requests_total{route="/predict",status="200"}' in text


def test_16_clients_x_500_requests_no_errors_and_every_answer_logged(server, sample_rows):
    answers = hammer(server.port, [bodies(server.port, sample_rows[k:], 500) for k in range(16)])
    assert len(answers) == 8000
    bad = [a for a in answers if a[0] != 200]
    assert bad == [], bad[:5]
    ids = [b['request_id'] for _, b in answers]
    assert len(set(ids)) == 8000
    log = read_predictions(server.log)
    logged = log[log.request_id.isin(set(ids))]
    assert len(logged) == 8000  # one row per answered row: nothing lost, nothing twice
    by_id = dict(zip(logged.request_id, logged.prediction))
    assert all(by_id[b['request_id']] == b['prediction'] for _, b in answers)


def test_reload_during_load_fails_no_request(server, sample_rows):
    results = {}
    def reloads():
        time.sleep(0.3)
        out = []
        for _ in range(3):
            out.append(hammer(server.port, [[post_bytes(server.port, '/model/reload', b'', {'Authorization': f'Bearer {ADMIN}'})]])[0][0])
            time.sleep(0.2)
        results['reload'] = out
    t = threading.Thread(target=reloads); t.start()
    answers = hammer(server.port, [bodies(server.port, sample_rows[k:k + 50], 10_000) for k in range(8)], seconds=4)
    t.join()
    assert results['reload'] == [200, 200, 200]
    assert len(answers) > 100 and {a[0] for a in answers} == {200}


def test_every_request_is_recorded_with_its_status(server):
    before = time.time()
    hammer(server.port, [[post_bytes(server.port, '/predict', b'{"MedInc": "x"}'), post_bytes(server.port, '/predict', json.dumps(EXAMPLE_ROW).encode())]])
    time.sleep(0.3)  # request rows are committed just after their response
    reqs = read_requests(server.log, since=before)
    assert [(r.route, r.status) for r in reqs.itertuples()][-2:] == [('/predict', 422), ('/predict', 200)]


def test_sigkill_under_load_loses_no_answered_prediction(trained_store, tmp_path, sample_rows):
    "Kill -9 while 16 clients are sending: the log is intact and holds every request that got an answer"
    s = Server(trained_store, tmp_path/'log.db')
    try:
        s.wait_ready()
        killer = threading.Timer(1.5, lambda: s.proc.send_signal(signal.SIGKILL))
        killer.start()
        answers = hammer(s.port, [bodies(s.port, sample_rows[k:k + 50], 100_000) for k in range(16)], seconds=20)
        killer.join()
        assert s.proc.wait(10) == -signal.SIGKILL
    finally: s.stop()
    answered = {b['request_id'] for st, b in answers if st == 200}
    assert len(answered) > 50, 'the load did not run before the kill'
    assert any(st is None for st, _ in answers)  # the kill cut connections mid-flight
    con = sqlite3.connect(tmp_path/'log.db')
    assert con.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
    logged = {r[0] for r in con.execute('SELECT request_id FROM predictions')}
    con.close()
    missing = answered - logged
    assert not missing, f'{len(missing)} answered predictions are not in the log'
    print(f'\nkilled under load: {len(answered)} answered, {len(logged)} logged, {sum(st is None for st, _ in answers)} connections cut')


def test_without_a_model_the_server_starts_and_answers_503(trained_store, tmp_path):
    s = Server(trained_store, tmp_path/'log.db', '--model-uri', 'models:/california-housing@absent')
    try:
        t = time.monotonic()
        while time.monotonic() - t < 120:
            try:
                st, health = get_json(s.port, '/health', 2); break
            except OSError:
                assert s.proc.poll() is None, s.out.read_text()[-2000:]; time.sleep(0.3)
        assert st == 200 and health['model_loaded'] is False and 'housing pipeline' in health['reason']
        st, ready = get_json(s.port, '/ready')
        assert st == 503 and 'absent' in ready['detail']
        (status, body), = hammer(s.port, [[post_bytes(s.port, '/predict', json.dumps(EXAMPLE_ROW).encode())]])
        assert status == 503 and 'housing pipeline' in body['detail']
        time.sleep(1)
        assert s.proc.poll() is None  # still up: no crash loop
    finally: s.stop()


def test_microbatching_server_under_concurrent_load(trained_store, tmp_path, sample_rows):
    s = Server(trained_store, tmp_path/'log.db', '--microbatch')
    try:
        s.wait_ready()
        answers = hammer(s.port, [bodies(s.port, sample_rows[k:], 150) for k in range(16)])
        import urllib.request
        text = urllib.request.urlopen(f'http://127.0.0.1:{s.port}/metrics').read().decode()  # nosec B310: loopback
    finally: s.stop()
    assert len(answers) == 2400 and {a[0] for a in answers} == {200}
    log = read_predictions(tmp_path/'log.db')
    assert set(log.request_id) >= {b['request_id'] for _, b in answers}
    calls = float(next(l for l in text.splitlines() if l.startswith('housing_microbatch_rows_count')).rsplit(' ', 1)[1])
    assert calls < 2400, 'concurrent requests should share model calls'


@pytest.mark.slow
def test_two_workers_share_one_log(trained_store, tmp_path, sample_rows):
    s = Server(trained_store, tmp_path/'log.db', '--workers', '2')
    try:
        s.wait_ready()
        answers = hammer(s.port, [bodies(s.port, sample_rows[k:], 200) for k in range(8)])
    finally: s.stop()
    assert {a[0] for a in answers} == {200}
    assert len(read_predictions(tmp_path/'log.db')) >= 1600
