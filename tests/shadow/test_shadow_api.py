"""The challenger in shadow behind a real `housing serve` (two workers, loopback) on a real MLflow store:
every served row is predicted by the challenger and logged in `shadow`, responses stay the champion's,
/model/reload re-resolves the alias in every worker, and a full buffer sheds (bounded, counted)."""
import time
import urllib.request

import numpy as np
import pytest

from api_support import Server, get_json, hammer, post_bytes, requests_cycle

from housing.data import FEATURES

ADMIN = 'shadow-admin-token'


def metrics_text(port) -> str:
    return urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10).read().decode()  # nosec B310: loopback


def workers_shadowing(port, version: str) -> int:
    "How many workers report the challenger `version` loaded (`housing_shadow_model`, one series per worker)"
    return sum(1 for line in metrics_text(port).splitlines()
               if line.startswith('housing_shadow_model{') and f'version="{version}"' in line and line.endswith(' 1.0'))


def wait_for(predicate, timeout: float, what: str):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if predicate(): return
        time.sleep(0.3)
    raise AssertionError(f'not within {timeout:.0f} s: {what}')


@pytest.fixture(scope='module')
def served(challenger_store, tmp_path_factory):
    "`housing serve --workers 2` on the champion, the challenger alias set; shadow checks only on start-up and on reload"
    log = tmp_path_factory.mktemp('shadow-serve')/'log.db'
    s = Server(challenger_store, log, '--workers', '2',
               env={'HOUSING_ADMIN_TOKEN': ADMIN, 'HOUSING_RELOAD_CHECK_SECONDS': '0.5', 'HOUSING_SHADOW_CHECK_SECONDS': '3600',
                    'HOUSING_SHADOW_CPU_SHARE': '100'})  # every row: no CPU budget to shed by on a shared test machine
    try:
        s.wait_ready(timeout=400)
        wait_for(lambda: workers_shadowing(s.port, challenger_store['challenger']) == 2, 300, 'both workers load the challenger')
        yield s, log
    finally: s.stop()


@pytest.fixture(scope='module')
def models(challenger_store):
    from housing.tracking import load_model
    uri = challenger_store['tracking_uri']
    return load_model('models:/california-housing@champion', uri).pipeline, load_model('models:/california-housing@challenger', uri).pipeline


def test_every_served_row_is_predicted_by_the_challenger_and_responses_stay_the_champions(served, models, challenger_store, labelled_rows):
    from housing.logquery import read_predictions
    from housing.shadow import read_shadow
    s, log = served
    champion, challenger = models
    rows = [dict(zip(FEATURES, map(float, r))) for r in labelled_rows[FEATURES].to_numpy()]
    singles = [rows[k * 20:(k + 1) * 20] for k in range(8)]  # 8 concurrent clients, 20 rows each
    answers = hammer(s.port, [requests_cycle(s.port, '/predict', part, len(part)) for part in singles])
    batches = hammer(s.port, [[post_bytes(s.port, '/predict/batch', __import__('json').dumps({'instances': rows[160 + 40 * k:200 + 40 * k]}).encode())]
                              for k in range(3)])
    assert [st for st, _ in answers + batches] == [200] * (160 + 3)
    X = labelled_rows[FEATURES].iloc[:280]
    served_y = [b['prediction'] for _, b in answers] + [y for _, b in batches for y in b['predictions']]
    np.testing.assert_allclose(served_y, champion.predict(X), rtol=0, atol=1e-9)  # the champion answered, unchanged
    assert {b['model_version'] for _, b in answers + batches} == {challenger_store['champion']}
    wait_for(lambda: len(read_shadow(log)) >= 280, 60, 'all 280 rows in the shadow table')
    sh, logged = read_shadow(log), read_predictions(log)
    assert len(sh) == len(logged) == 280
    assert set(sh.request_id) == set(logged.request_id) == {b['request_id'] for _, b in answers + batches}
    assert sorted(sh[sh.request_id.isin({b['request_id'] for _, b in batches})].row.tolist()) == sorted(list(range(40)) * 3)
    assert set(sh.challenger_version) == {challenger_store['challenger']}
    np.testing.assert_allclose(sh.challenger, challenger.predict(sh[FEATURES]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(sh.champion, champion.predict(sh[FEATURES]), rtol=0, atol=1e-9)
    assert not np.allclose(sh.challenger, sh.champion)  # two different models: the shadow is not a copy
    text = metrics_text(s.port)
    predicted = sum(float(l.rsplit(' ', 1)[1]) for l in text.splitlines() if l.startswith('housing_shadow_rows_total{outcome="predicted"}'))
    assert predicted == 280


def test_reload_re_resolves_the_challenger_alias_in_every_worker(served, challenger_store, labelled_rows):
    from housing.shadow import read_shadow
    from housing.tracking import client
    s, log = served
    c, v2 = client(challenger_store['tracking_uri']), challenger_store['challenger']
    auth = {'Authorization': f'Bearer {ADMIN}'}
    c.delete_registered_model_alias('california-housing', 'challenger')
    try:
        (st, _), = hammer(s.port, [[post_bytes(s.port, '/model/reload', b'', auth)]])
        assert st == 200
        wait_for(lambda: workers_shadowing(s.port, v2) == 0, 30, 'both workers drop the challenger')
        assert get_json(s.port, '/model/info')[1]['shadow']['version'] is None
        rows = [dict(zip(FEATURES, map(float, r))) for r in labelled_rows[FEATURES].to_numpy()[:10]]
        answers = hammer(s.port, [requests_cycle(s.port, '/predict', rows, 10)])
        assert [st for st, _ in answers] == [200] * 10
        time.sleep(1.0)
        assert not set(read_shadow(log).request_id) & {b['request_id'] for _, b in answers}  # no challenger: no shadow rows
    finally: c.set_registered_model_alias('california-housing', 'challenger', v2)
    (st, _), = hammer(s.port, [[post_bytes(s.port, '/model/reload', b'', auth)]])
    assert st == 200
    wait_for(lambda: workers_shadowing(s.port, v2) == 2, 120, 'both workers load the challenger again')


def test_a_full_buffer_sheds_rows_without_touching_the_response(challenger_store, tmp_path, labelled_rows):
    from fastapi.testclient import TestClient
    from housing.api import create_app
    rows = [dict(zip(FEATURES, map(float, r))) for r in labelled_rows[FEATURES].to_numpy()[:5]]
    app = create_app(model_uri='models:/california-housing@champion', tracking_uri=challenger_store['tracking_uri'],
                     prediction_log=tmp_path/'log.db', shadow_queue_rows=4)
    with TestClient(app) as api:
        wait_for(lambda: api.get('/model/info').json()['shadow']['version'] == challenger_store['challenger'], 120, 'challenger loaded')
        r = api.post('/predict/batch', json={'instances': rows})  # 5 rows > a buffer of 4: shed whole
        assert r.status_code == 200 and len(r.json()['predictions']) == 5
        state = api.get('/model/info').json()['shadow']
        assert (state['shed'], state['waiting']) == (5, 0)
        assert 'housing_shadow_rows_total{outcome="shed"} 5.0' in api.get('/metrics').text


def test_the_buffer_is_bounded_and_the_thread_predicts_what_it_holds(challenger_store, tmp_path, labelled_rows):
    from housing.predlog import PredictionLog, _connect, prediction_row
    from housing.shadow import Shadow
    from prometheus_client import CollectorRegistry
    X = labelled_rows[FEATURES].to_numpy()[:12]
    with PredictionLog(tmp_path/'log.db') as log:
        sh = Shadow(log, challenger_store['challenger_uri'], challenger_store['tracking_uri'], max_rows=10, registry=CollectorRegistry())
        assert sh.refresh() == challenger_store['challenger']
        offered = [sh.offer([prediction_row(list(x), 1.0, '1', request_id=f'r{k}') for x in X[4 * k:4 * k + 4]]) for k in range(3)]
        assert offered == [True, True, False] and (sh.waiting, sh.shed) == (8, 4)  # never more than 10 rows held
        assert sh.drain() == 8 and sh.waiting == 0
        log.run(lambda con: None)
    got = _connect(tmp_path/'log.db', 1000, 'NORMAL', readonly=True).execute('SELECT request_id, row FROM shadow ORDER BY id').fetchall()
    assert got == [(f'r{k}', i) for k in range(2) for i in range(4)]
