"""The prediction log: one writer, group commits, concurrent writers in other threads and processes, windows, failures."""
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest

from housing.data import FEATURES
from housing.predlog import PREDICTION_COLUMNS, REQUEST_COLUMNS, LogError, PredictionLog, read_predictions, read_requests
from housing.validation import EXAMPLE_ROW


def prow(i, **kw):
    return {**EXAMPLE_ROW, 'prediction': 2.0 + i / 1000, 'model_version': '1', 'request_id': f'r{i}', **kw}


def test_the_schema_is_the_agreed_one(tmp_path):
    PredictionLog(tmp_path/'log.db').close()
    con = sqlite3.connect(tmp_path/'log.db')
    cols = lambda t: [(r[1], r[2]) for r in con.execute(f'PRAGMA table_info({t})')]
    assert cols('predictions') == [('id', 'INTEGER'), ('request_id', 'TEXT'), ('ts', 'REAL'), *[(f, 'REAL') for f in FEATURES],
                                   ('prediction', 'REAL'), ('model_version', 'TEXT'), ('latency_ms', 'REAL'), ('ood', 'INTEGER')]
    assert cols('requests') == [('id', 'INTEGER'), ('request_id', 'TEXT'), ('ts', 'REAL'), ('route', 'TEXT'), ('status', 'INTEGER'),
                                ('latency_ms', 'REAL'), ('rows', 'INTEGER')]
    assert con.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert PREDICTION_COLUMNS[0] == 'request_id' and REQUEST_COLUMNS[-1] == 'rows'


def test_many_threads_write_at_once_without_losing_or_locking(tmp_path):
    errors = []
    with PredictionLog(tmp_path/'log.db') as log:
        def worker(k):
            try:
                for i in range(200): log.write([prow(k * 1000 + i)])
            except Exception as e: errors.append(e)  # noqa: BLE001
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert log.commits < 1600  # waits were shared by group commits
    assert errors == []
    df = read_predictions(tmp_path/'log.db')
    assert len(df) == 1600 and df.request_id.is_unique


def test_two_processes_write_the_same_file(tmp_path):
    "A second worker process (or the traffic simulator) writes beside this one: WAL and the busy timeout, no 'locked'"
    code = ('import sys; from housing.predlog import PredictionLog\n'
            'from housing.validation import EXAMPLE_ROW\n'
            'with PredictionLog(sys.argv[1]) as log:\n'
            '    for i in range(300): log.write([{**EXAMPLE_ROW, "prediction": 1.0, "request_id": f"p{i}"}])\n')
    child = subprocess.Popen([sys.executable, '-c', code, str(tmp_path/'log.db')], stderr=subprocess.PIPE, text=True)
    with PredictionLog(tmp_path/'log.db') as log:
        for i in range(300): log.write([prow(i)])
    assert child.wait(60) == 0, child.stderr.read()
    df = read_predictions(tmp_path/'log.db')
    assert len(df) == 600
    assert sqlite3.connect(tmp_path/'log.db').execute('PRAGMA integrity_check').fetchone()[0] == 'ok'


def test_rows_from_the_simulator_may_be_incomplete(tmp_path):
    "Monitoring writes rows with missing or NaN features on purpose; they are stored as NULL"
    with PredictionLog(tmp_path/'log.db') as log:
        log.write([{'MedInc': float('nan'), 'prediction': 1.0}, {**EXAMPLE_ROW, 'prediction': None, 'ood': True}])
    df = read_predictions(tmp_path/'log.db')
    assert df.MedInc.isna().tolist() == [True, False] and df.HouseAge.isna().tolist() == [True, False]
    assert df.prediction.isna().tolist() == [False, True] and df.ood.tolist() == [0, 1]
    assert df.request_id.str.len().min() == 32  # generated when not given


def test_windows_are_half_open_and_accept_several_time_forms(tmp_path):
    with PredictionLog(tmp_path/'log.db') as log:
        log.write([prow(i, ts=1000.0 + i) for i in range(10)])
        log.write_requests([{'route': '/predict', 'status': 200 + (i % 2) * 222, 'ts': 1000.0 + i} for i in range(10)])
    assert read_predictions(tmp_path/'log.db', since=1003, until=1006).ts.tolist() == [1003.0, 1004.0, 1005.0]
    iso = datetime.fromtimestamp(1005, timezone.utc).isoformat()
    assert len(read_predictions(tmp_path/'log.db', since=iso)) == 5
    assert len(read_predictions(tmp_path/'log.db', until=datetime.fromtimestamp(1002, timezone.utc))) == 2
    assert read_requests(tmp_path/'log.db', since='1008').status.tolist() == [200, 422]
    with pytest.raises(ValueError, match='ISO-8601'): read_predictions(tmp_path/'log.db', since='last tuesday')
    with pytest.raises(FileNotFoundError, match='housing serve'): read_predictions(tmp_path/'none.db')


def test_a_failed_commit_raises_for_its_writers_and_is_counted(tmp_path):
    with PredictionLog(tmp_path/'log.db') as log:
        log.write([prow(0)])
        con = sqlite3.connect(tmp_path/'log.db'); con.execute('DROP TABLE predictions'); con.commit(); con.close()
        with pytest.raises(LogError, match='no such table'): log.write([prow(1)])
        assert (log.failures, log.healthy) == (1, False)
        log.write_requests([{'route': '/health', 'status': 200}])  # the other table still works, and health comes back
        assert log.healthy


def test_close_commits_what_is_queued(tmp_path):
    log = PredictionLog(tmp_path/'log.db')
    for i in range(100): log.write([prow(i)], wait=False)
    log.close()
    assert len(read_predictions(tmp_path/'log.db')) == 100
    with pytest.raises(LogError, match='closed'): log.write([prow(0)])


def test_an_unwritable_place_is_named(tmp_path):
    (tmp_path/'f').write_text('x')
    with pytest.raises(LogError, match='HOUSING_PREDICTION_LOG') as e: PredictionLog(tmp_path/'f'/'log.db')
    assert str(tmp_path/'f'/'log.db') in str(e.value)


def test_group_commit_keeps_logging_cheap(tmp_path):
    "Writing 5,000 single-row requests from 50 threads takes well under a second of commits"
    with PredictionLog(tmp_path/'log.db') as log:
        t = time.perf_counter()
        threads = [threading.Thread(target=lambda k=k: [log.write([prow(k * 100 + i)]) for i in range(100)]) for k in range(50)]
        for th in threads: th.start()
        for th in threads: th.join()
        elapsed = time.perf_counter() - t
        commits = log.commits
    assert len(read_predictions(tmp_path/'log.db')) == 5000
    assert commits < 5000 and elapsed < 30, (commits, elapsed)
