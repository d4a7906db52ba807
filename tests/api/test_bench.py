"""The benchmark script's own parts: its load generator against the floor server, and its verdicts."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT/'bench'))
import bench_api  # noqa: E402


@pytest.fixture
def floor(tmp_path):
    port = bench_api.free_port()
    proc = subprocess.Popen([sys.executable, '-c', bench_api.FLOOR_APP, str(port)], start_new_session=True,
                            stdout=open(tmp_path/'floor.log', 'w'), stderr=subprocess.STDOUT)
    try:
        bench_api.wait_http(port, '/', proc, timeout=60)
        yield port, proc
    finally: bench_api.stop(proc)


def test_the_load_generator_measures_the_floor_server(floor):
    port, proc = floor
    reqs = [bench_api.http_request(port, '/', b'{"x": %d}' % i) for i in range(8)]
    t = time.perf_counter()
    r = bench_api.load(port, reqs, 4, seconds=1.0, warmup=0.2, pgid=proc.pid)
    assert time.perf_counter() - t < 10
    assert r['errors'] == 0 and r['requests'] > 100 and r['rps'] > 100
    assert 0 < r['p50_ms'] <= r['p99_ms'] and r['cpu_ms_per_req'] > 0


def test_summary_table_and_verdicts():
    def runs(rps1, rps16, p99):
        return [dict(round=0, concurrency=1, rps=rps1, p50_ms=1, p99_ms=2, cpu_ms_per_req=1, errors=0),
                dict(round=0, concurrency=16, rps=rps16, p50_ms=5, p99_ms=p99, cpu_ms_per_req=1, errors=0),
                dict(round=0, concurrency='batch1000', batch_ms=10.0)]
    table, verdicts = bench_api.summarise({'housing': runs(900, 1000, 20), 'housing+mb': runs(900, 2000, 10), 'mlflow': runs(300, 300, 160)})
    assert table.count('\n') == 4 and '| housing | 900 |' in table and '3.00x / 3.33x' in table
    assert verdicts == ['PASS single-row req/s at c=1 >= 3x mlflow: 3.00x', 'PASS single-row req/s at c=16 >= 3x mlflow: 3.33x',
                        "PASS p99 at c=16 <= 1/4 of mlflow's: 20.0 ms vs 160.0 ms", 'PASS micro-batching req/s at c=16 >= 5x mlflow: 6.67x',
                        'PASS errors under load: 0']
    _, verdicts = bench_api.summarise({'housing': runs(500, 500, 100), 'mlflow': runs(300, 300, 160)})
    assert [v.split()[0] for v in verdicts] == ['FAIL', 'FAIL', 'FAIL', 'PASS']
