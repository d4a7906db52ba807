"""The API's live performance gauges: a real `housing serve` on loopback, a real store, labels arriving while it runs."""
import re
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'api'))
from api_support import HOST, Server  # noqa: E402

from liveperf_support import rmse  # noqa: E402


def gauges(port: int) -> dict:
    with urllib.request.urlopen(f'http://{HOST}:{port}/metrics', timeout=5) as r:  # nosec B310: loopback
        text = r.read().decode()
    return {(m[1], m[2]): float(m[3]) for m in re.finditer(r'^housing_live_(\w+)\{window="(\w+)"\} (\S+)$', text, re.M)}


def wait_for(port: int, key: tuple, value: float, timeout: float = 120) -> dict:
    t, g = time.monotonic(), {}
    while time.monotonic() - t < timeout:
        g = gauges(port)
        if g.get(key) == value: return g
        time.sleep(0.5)
    raise AssertionError(f'{key} never became {value}: {g}')


def test_gauges_follow_labels_as_they_arrive(tmp_path, trained_store, traffic):
    "Realised RMSE, rows and status per window appear in /metrics, beside the estimate, and change when new labels come"
    log = tmp_path/'predictions.db'
    first = traffic(log, trained_store, n=800, labelled=400, prefix='a')
    server = Server(trained_store, log, env=dict(HOUSING_PERF_REFRESH_S='1', HOUSING_CACHE_DIR=str(tmp_path/'cache')))
    try:
        server.wait_ready()
        g = wait_for(server.port, ('labelled_rows', '1h'), 400.0)
        assert abs(g[('rmse', '1h')] - rmse(first['actual'], first['prediction'])) < 1e-9
        assert g[('status', '1h')] == 0.0 and g[('labelled_rows', '7d')] == 400.0
        assert 0.3 < g[('estimated_rmse', '1h')] < 0.7, g  # the loss estimator was fitted from the run's residuals
        t0 = time.monotonic()
        traffic(log, trained_store, start=800, n=800, labelled=800, factor=1.3, prefix='b')  # a concept shift arrives
        g = wait_for(server.port, ('labelled_rows', '1h'), 1200.0)
        print(f'\ngauges updated {time.monotonic() - t0:.1f} s after the labels; 1h: rmse {g[("rmse", "1h")]:.4f}, '
              f'estimated {g[("estimated_rmse", "1h")]:.4f}, status {g[("status", "1h")]:.0f}')
        assert g[('status', '1h')] == 2.0 and g[('rmse', '1h')] > 0.6
        assert (tmp_path/'cache'/'loss-estimators'/f"{trained_store['run_id']}.skops").exists()
    finally:
        server.stop()


def test_scrapes_do_not_recompute(tmp_path, trained_store, traffic):
    "A scrape reads the last figures: with a long period, labels arriving later do not show up however often /metrics is read"
    log = tmp_path/'predictions.db'
    traffic(log, trained_store, n=100, labelled=100, prefix='a')
    server = Server(trained_store, log, env=dict(HOUSING_PERF_REFRESH_S='3600', HOUSING_CACHE_DIR=str(tmp_path/'cache')))
    try:
        server.wait_ready()
        wait_for(server.port, ('labelled_rows', '24h'), 100.0)
        traffic(log, trained_store, start=100, n=100, labelled=100, prefix='b')
        for _ in range(5): assert gauges(server.port)[('labelled_rows', '24h')] == 100.0
    finally:
        server.stop()
