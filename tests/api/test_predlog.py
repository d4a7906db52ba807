"""The prediction log: one writer, group commits, concurrent writers in other threads and processes, windows, failures."""
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest

from housing.data import FEATURES
from housing.logquery import read_predictions, read_requests
from housing.predlog import PREDICTION_COLUMNS, REQUEST_COLUMNS, LogError, PredictionLog
from housing.validation import EXAMPLE_ROW


def prow(i, **kw):
    return {**EXAMPLE_ROW, 'prediction': 2.0 + i / 1000, 'model_version': '1', 'request_id': f'r{i}', **kw}


def test_the_schema_is_the_agreed_one(tmp_path):
    PredictionLog(tmp_path/'log.db').close()
    con = sqlite3.connect(tmp_path/'log.db')
    cols = lambda t: [(r[1], r[2]) for r in con.execute(f'PRAGMA table_info({t})')]
    assert cols('predictions') == [('id', 'INTEGER'), ('request_id', 'TEXT'), ('ts', 'REAL'), *[(f, 'REAL') for f in FEATURES],
                                   ('prediction', 'REAL'), ('model_version', 'TEXT'), ('latency_ms', 'REAL'), ('ood', 'INTEGER'),
                                   ('simulated', 'INTEGER')]
    assert cols('requests') == [('id', 'INTEGER'), ('request_id', 'TEXT'), ('ts', 'REAL'), ('route', 'TEXT'), ('status', 'INTEGER'),
                                ('latency_ms', 'REAL'), ('rows', 'INTEGER'), ('simulated', 'INTEGER')]
    assert con.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    assert PREDICTION_COLUMNS[0] == 'request_id' and REQUEST_COLUMNS[-1] == 'simulated'


def test_a_log_from_before_the_simulated_column_is_migrated(tmp_path):
    "An existing log gets the column (its rows count as real traffic), and new rows can be marked simulated"
    con = sqlite3.connect(tmp_path/'log.db')
    con.execute('CREATE TABLE predictions (id INTEGER PRIMARY KEY, request_id TEXT, ts REAL, '
                + ', '.join(f'{f} REAL' for f in FEATURES) + ', prediction REAL, model_version TEXT, latency_ms REAL, ood INTEGER)')
    con.execute('INSERT INTO predictions (request_id, ts, prediction) VALUES (?, ?, ?)', ('old', 1.0, 2.0)); con.commit(); con.close()
    with PredictionLog(tmp_path/'log.db') as log:
        log.write([prow(1, simulated=True)])
    df = read_predictions(tmp_path/'log.db')
    assert dict(zip(df.request_id, df.simulated)) == {'old': 0, 'r1': 1}


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
        log.write([prow(2)])  # the writer reconnected and recreated the table: health comes back
        assert log.healthy and log.failures == 1


def test_the_writer_heals_by_itself_without_traffic(tmp_path):
    "A failed commit marks the log unhealthy; the heartbeat makes it healthy again within seconds of the cause going away"
    with PredictionLog(tmp_path/'log.db') as log:
        con = sqlite3.connect(tmp_path/'log.db', isolation_level=None)
        con.execute('BEGIN EXCLUSIVE')  # another process holds the write lock: commits fail after the busy timeout
        log.busy_timeout_ms = 200
        log._drop()  # the next commit reconnects with the short timeout
        with pytest.raises(LogError, match='locked'): log.write([prow(0)])
        assert not log.healthy
        con.execute('ROLLBACK'); con.close()
        t = time.monotonic()
        while not log.healthy and time.monotonic() - t < 10: time.sleep(0.05)
        healed = time.monotonic() - t
        assert log.healthy and healed < 5, healed
        log.write([prow(1)])
    print(f'\nhealed {healed:.2f} s after the lock was released')
    assert read_predictions(tmp_path/'log.db').request_id.tolist() == ['r1']


def test_a_failed_retention_prune_is_a_warning_and_the_log_recreates_its_table(tmp_path, caplog):
    "The hourly prune runs in the writer; when it fails (a table dropped by another process) it says so and the log heals"
    with PredictionLog(tmp_path/'log.db', retention_days=1) as log:
        log.write([prow(0)]); log.flush()  # the first prune (due at start) has run: `_maintain` follows each batch
        con = sqlite3.connect(tmp_path/'log.db'); con.execute('DROP TABLE predictions'); con.commit(); con.close()
        log._next_prune = 0  # the next hour has come
        with caplog.at_level('WARNING', logger='housing.predlog'):
            t = time.monotonic()
            while not caplog.records and time.monotonic() - t < 10: time.sleep(0.05)
        assert [r.getMessage() for r in caplog.records] == [
            f"prediction log {tmp_path/'log.db'}: write failed (OperationalError: no such table: predictions); "
            'rows older than 1 days stay until the next try in an hour']
        assert log.write([prow(1)]) == 1 and log.healthy
    assert read_predictions(tmp_path/'log.db').request_id.tolist() == ['r1']


def test_prune_deletes_old_rows_and_retention_runs_in_the_writer(tmp_path):
    from housing.predlog import prune_log
    old, now = time.time() - 40 * 86400, time.time()
    with PredictionLog(tmp_path/'log.db') as log:
        log.write([prow(0, ts=old), prow(1, ts=now)])
        log.write_requests([{'route': '/predict', 'status': 200, 'ts': old}])
    assert prune_log(tmp_path/'log.db', before=now - 30 * 86400) == (1, 1)
    with PredictionLog(tmp_path/'log.db', retention_days=30) as log:
        log.write([prow(2, ts=old)])  # written old; the hourly pass right after start deletes it
        t = time.monotonic()
        while log.pruned == 0 and time.monotonic() - t < 5: time.sleep(0.05)
    assert read_predictions(tmp_path/'log.db').request_id.tolist() == ['r1']


def test_aggregates_answer_without_loading_rows(tmp_path):
    from housing.logquery import latency_percentiles, request_counts
    with PredictionLog(tmp_path/'log.db') as log:
        log.write_requests([{'route': '/predict', 'status': 200, 'ts': 3600.0 + i, 'latency_ms': float(i + 1)} for i in range(100)]
                           + [{'route': '/predict/batch', 'status': 200, 'ts': 7300.0, 'latency_ms': 50.0},
                              {'route': '/predict', 'status': 422, 'ts': 7301.0, 'latency_ms': 0.5},
                              {'route': '/predict', 'status': 200, 'ts': 3700.0, 'latency_ms': 1e6, 'simulated': True}])
    lat = latency_percentiles(tmp_path/'log.db', bucket_s=3600)
    assert lat[['bucket', 'route', 'requests', 'p50_ms', 'p95_ms', 'p99_ms']].values.tolist() == [
        [3600.0, '/predict', 100, 50.0, 95.0, 99.0], [7200.0, '/predict/batch', 1, 50.0, 50.0, 50.0]]
    counts = request_counts(tmp_path/'log.db')
    assert counts.values.tolist() == [['/predict', 200, 100, 0], ['/predict', 422, 1, 0], ['/predict/batch', 200, 1, 0]]
    assert request_counts(tmp_path/'log.db', simulated=None).requests.sum() == 103


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


def test_housing_log_prune_deletes_rows_older_than_a_duration(tmp_path, capsys):
    from housing.cli import main
    with PredictionLog(tmp_path/'log.db') as log:
        log.write([prow(0, ts=time.time() - 40 * 86400), prow(1)])
    assert main(['log', 'prune', '--older-than', '30d', '--path', str(tmp_path/'log.db')]) == 0
    assert 'deleted 1 predictions and 0 requests older than 30d' in capsys.readouterr().out
    assert read_predictions(tmp_path/'log.db').request_id.tolist() == ['r1']
    assert main(['log', 'prune', '--older-than', 'soon', '--path', str(tmp_path/'log.db')]) == 2
