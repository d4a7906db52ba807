"""The API's live performance refresh runs in a child process of the worker: it computes the gauges, is replaced when it dies,
and does not outlive the server."""
import os
import signal
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'api'))
from api_support import Server  # noqa: E402

from liveperf_support import rmse  # noqa: E402
from test_gauges import wait_for  # noqa: E402


def refresh_children(pid: int) -> list:
    "The spawned multiprocessing workers below process `pid` (the refresh pool's child; not the resource tracker)"
    out = []
    for p in psutil.Process(pid).children(recursive=True):
        try:
            if 'spawn_main' in ' '.join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE: out.append(p)
        except psutil.NoSuchProcess: pass
    return out


def wait_for_child(pid: int, other_than: int | None = None, timeout: float = 60):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if (kids := [p for p in refresh_children(pid) if p.pid != other_than]): return kids
        time.sleep(0.2)
    raise AssertionError(f'no refresh process below {pid} (other than {other_than}) after {timeout} s')


def test_refresh_runs_in_a_low_priority_child_that_is_replaced_when_it_dies_and_ends_with_the_server(tmp_path, trained_store, traffic):
    log = tmp_path/'predictions.db'
    first = traffic(log, trained_store, n=400, labelled=200, prefix='a')
    server = Server(trained_store, log, env=dict(HOUSING_PERF_REFRESH_S='1', HOUSING_CACHE_DIR=str(tmp_path/'cache')))
    try:
        server.wait_ready()
        g = wait_for(server.port, ('labelled_rows', '1h'), 200.0)  # the gauges come from the child's windows
        assert abs(g[('rmse', '1h')] - rmse(first['actual'], first['prediction'])) < 1e-9 and 0.3 < g[('estimated_rmse', '1h')] < 0.7, g
        child, = wait_for_child(server.proc.pid)
        assert child.ppid() == server.proc.pid  # one per API worker (`housing serve` with one worker is the worker)
        assert child.nice() == psutil.Process(server.proc.pid).nice() + 10  # serving wins the CPU

        child.kill(); child.wait(10)  # a child that dies: the last figures stay, a new child takes over
        assert wait_for(server.port, ('labelled_rows', '1h'), 200.0)
        traffic(log, trained_store, start=400, n=200, labelled=200, prefix='b')
        wait_for(server.port, ('labelled_rows', '1h'), 400.0)
        new, = wait_for_child(server.proc.pid, other_than=child.pid)
        descendants = psutil.Process(server.proc.pid).children(recursive=True)
        assert 'live performance process died' in server.out.read_text()

        os.kill(server.proc.pid, signal.SIGTERM)  # the server alone (not its process group): its shutdown stops the child
        server.proc.wait(30)
        assert not new.is_running()  # already gone when the server is: stopped by the app's shutdown, not its own parent watch (1 s)
    finally:
        server.stop()
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert not alive, [(p.pid, p.cmdline()) for p in alive]
