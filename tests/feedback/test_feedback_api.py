"""POST /feedback on the real server and the real prediction log: idempotent, 409 on a different label, 404 naming an
unknown or pruned request, 422 naming the field, the predictions' authentication, and `housing feedback FILE.csv`."""
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from housing.labels import read_labelled
from housing.validation import EXAMPLE_ROW

HOUSING = Path(sys.executable).parent/'housing'


def _labels(log) -> int:
    con = sqlite3.connect(log)
    try: return con.execute('SELECT COUNT(*) FROM labels').fetchone()[0]
    except sqlite3.OperationalError: return 0
    finally: con.close()


def _predict(api, rows=1) -> dict:
    r = api.post('/predict/batch', json={'instances': [EXAMPLE_ROW] * rows}) if rows > 1 else api.post('/predict', json=EXAMPLE_ROW)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_label_sent_twice_is_stored_once_and_joined_to_its_prediction(api, server):
    p = _predict(api)
    first = api.post('/feedback', json={'request_id': p['request_id'], 'actual': 4.526})
    assert first.status_code == 200 and first.json()['accepted'] == 1, first.text
    again = api.post('/feedback', json={'request_id': p['request_id'], 'row': 0, 'actual': 4.526})
    assert again.status_code == 200 and again.json() == {'accepted': 0, 'duplicates': 1,
                                                         'items': [{'request_id': p['request_id'], 'row': 0, 'status': 'duplicate'}]}
    got = read_labelled(server.log)
    mine = got[got.request_id == p['request_id']]
    assert len(mine) == 1 and mine.iloc[0]['actual'] == 4.526 and mine.iloc[0]['prediction'] == p['prediction']
    assert mine.iloc[0]['MedInc'] == EXAMPLE_ROW['MedInc']


def test_batch_rows_are_labelled_by_index_and_a_different_label_is_409(api, server):
    p = _predict(api, rows=3)
    rid = p['request_id']
    r = api.post('/feedback', json={'items': [{'request_id': rid, 'row': i, 'actual': 1.0 + i} for i in range(3)]})
    assert r.status_code == 200 and r.json()['accepted'] == 3, r.text
    clash = api.post('/feedback', json={'items': [{'request_id': rid, 'row': 2, 'actual': 3.0}, {'request_id': rid, 'row': 1, 'actual': 2.5}]})
    assert clash.status_code == 409, clash.text
    assert f"items[1]: request '{rid}' row 1 already has the label 2.0, not 2.5" in clash.json()['detail']
    no_row = api.post('/feedback', json={'request_id': rid, 'actual': 1.0})
    assert no_row.status_code == 422 and no_row.json()['detail'][0]['field'] == 'row', no_row.text
    assert 'predicted 3 rows: give row (0..2)' in no_row.json()['detail'][0]['msg']
    beyond = api.post('/feedback', json={'request_id': rid, 'row': 3, 'actual': 1.0})
    assert beyond.status_code == 404 and 'row 3 is not one of them' in beyond.json()['detail']
    got = read_labelled(server.log)
    assert got[got.request_id == rid].sort_values('row')['actual'].tolist() == [1.0, 2.0, 3.0]  # the 409 changed nothing


def test_an_unknown_request_id_is_404_naming_it_and_nothing_of_the_body_is_stored(api, server):
    p = _predict(api)
    before = _labels(server.log)
    r = api.post('/feedback', json={'items': [{'request_id': p['request_id'], 'actual': 2.0}, {'request_id': 'no-such-request', 'actual': 2.0}]})
    assert r.status_code == 404, r.text
    assert r.json()['detail'] == "items[1]: request id 'no-such-request' is not in the prediction log; nothing was recorded"
    assert _labels(server.log) == before


def test_a_label_for_a_pruned_prediction_says_it_was_pruned(api, server):
    from housing.predlog import PredictionLog, prune_log
    with PredictionLog(server.log) as log:  # a second writer on the server's file, as `housing log prune` is
        log.write([{**EXAMPLE_ROW, 'prediction': 4.0, 'request_id': 'long-ago', 'ts': 1000.0}])
    assert api.post('/feedback', json={'request_id': 'long-ago', 'actual': 4.1}).status_code == 200
    assert prune_log(server.log, before=2000.0) == (1, 0)
    r = api.post('/feedback', json={'request_id': 'long-ago', 'actual': 4.1})
    assert r.status_code == 404, r.text
    assert "body: request id 'long-ago' is not in the prediction log: its prediction was pruned by retention (predictions before 1970-01-01T00:33:20+00:00" in r.json()['detail']
    assert 'long-ago' not in set(read_labelled(server.log).request_id)  # its label went with it


@pytest.mark.parametrize('body, field', [
    ({'items': [{'request_id': 'r', 'actual': 1.0}, {'request_id': 'r', 'actual': 6.0}]}, 'items[1].actual'),
    ({'items': [{'request_id': 'r', 'actual': 'cheap'}]}, 'items[0].actual'),
    ({'request_id': 'r', 'actual': -1.0}, 'actual'),
    ({'request_id': 'r', 'actual': 0}, 'actual'),
    ({'actual': 1.0}, 'request_id'),
    ({'request_id': 'r', 'row': 1.5, 'actual': 1.0}, 'row'),
    ({'request_id': 'r', 'actual': 1.0, 'price': 1.0}, 'price'),
    ({'items': []}, 'items'),
])
def test_bad_labels_are_422_naming_the_field_and_store_nothing(api, server, body, field):
    before = _labels(server.log)
    r = api.post('/feedback', json=body)
    assert r.status_code == 422, r.text
    assert r.json()['detail'][0]['field'] == field, r.json()
    assert _labels(server.log) == before


def test_out_of_range_message_says_the_possible_range(api):
    r = api.post('/feedback', json={'request_id': 'r', 'actual': 6.0})
    assert r.json()['detail'][0]['expected'] == 'MedHouseVal: a finite number > 0 and <= 5.00001 ($100,000)'


def test_feedback_has_the_same_authentication_as_predictions(server):
    import httpx
    url = f'http://127.0.0.1:{server.port}/feedback'
    assert httpx.post(url, json={'request_id': 'r', 'actual': 1.0}).status_code == 401
    assert httpx.post(url, json={'request_id': 'r', 'actual': 1.0}, headers={'X-API-Key': 'wrong'}).status_code == 401
    r = httpx.post(url, content=b'request_id=r', headers={'X-API-Key': 'feedback-test-key', 'Content-Type': 'text/plain'})
    assert r.status_code == 415


def test_bulk_cli_keeps_good_rows_and_writes_rejected_ones_with_reasons(tmp_path):
    from housing.labels import Label, add_labels
    from housing.predlog import PredictionLog
    log = tmp_path/'log.db'  # a log of its own: the server's has been pruned by another test (unknown ids then read "pruned")
    with PredictionLog(log) as writer:
        writer.write([{**EXAMPLE_ROW, 'prediction': 4.0, 'request_id': 'batch-7'}] * 2)
        add_labels(writer, [Label('batch-7', 0, 2.0)])
    csv = tmp_path/'labels.csv'
    csv.write_text('request_id,row,actual\nbatch-7,0,2.0\nbatch-7,1,3.0\nbatch-7,0,2.2\nnobody,0,1.0\nbatch-7,1,9\n')
    run = subprocess.run([HOUSING, 'feedback', str(csv), '--path', str(log)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr  # some rows were rejected
    assert '5 rows: 1 accepted, 1 already recorded, 3 rejected (invalid 1, unknown 1, conflict 1)' in run.stdout, run.stdout
    rejects = (tmp_path/'labels.rejects.csv').read_text().splitlines()
    assert rejects[0] == 'request_id,row,actual,status,reason' and len(rejects) == 4
    assert any('line 6: actual: 9.0 is outside the possible range' in line for line in rejects), rejects
    assert any("line 4: request 'batch-7' row 0 already has the label 2.0, not 2.2" in line for line in rejects), rejects
    assert read_labelled(log).sort_values('row')['actual'].tolist() == [2.0, 3.0]
    missing = subprocess.run([HOUSING, 'feedback', str(tmp_path/'nope.csv'), '--path', str(log)], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and 'nope.csv: not found' in missing.stderr
