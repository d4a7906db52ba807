"""Overload is shed: a real uvicorn on loopback with a slow model, saturated; probes stay fast, the excess gets 503 + Retry-After."""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

from api_support import API_ENV, HOST, free_port, get_json, hammer, requests_cycle
from housing.logquery import read_predictions
from housing.validation import EXAMPLE_ROW

HERE = Path(__file__).resolve().parent


def start_slow_server(tmp_path, **env):
    port = free_port()
    e = {k: v for k, v in os.environ.items() if k not in API_ENV}
    e.update(PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get('PYTHONPATH', '')]), HOUSING_PREDICTION_LOG=str(tmp_path/'log.db'),
             PYTHONUNBUFFERED='1', MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path/'mlflow.db'}", HOUSING_CACHE_DIR=str(tmp_path/'cache'), **env)
    proc = subprocess.Popen([sys.executable, '-m', 'uvicorn', 'slow_app:create', '--factory', '--host', HOST, '--port', str(port),
                             '--log-level', 'warning', '--no-access-log'], env=e, cwd=tmp_path, start_new_session=True,  # nosec B603
                            stdout=open(tmp_path/'server.out', 'w'), stderr=subprocess.STDOUT)
    t = time.monotonic()
    while time.monotonic() - t < 180:
        assert proc.poll() is None, (tmp_path/'server.out').read_text()[-2000:]
        try:
            if get_json(port, '/ready', 2)[0] == 200: return port, proc
        except OSError: pass
        time.sleep(0.3)
    raise TimeoutError((tmp_path/'server.out').read_text()[-2000:])


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, 9); proc.wait(10)


PROBER = """
import json, sys, time, urllib.request, urllib.error
port, seconds = int(sys.argv[1]), float(sys.argv[2])
out, end, i = [], time.monotonic() + seconds, 0
while time.monotonic() < end:
    path = ('/health', '/metrics')[i % 2]; i += 1
    t, live = time.perf_counter(), False
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=10) as r: live = b'housing_live_status{' in r.read(); status = r.status
    except urllib.error.HTTPError as e: status = e.code
    except OSError: status = None
    out.append((path, time.perf_counter() - t, status, live))
    time.sleep(0.02)
print(json.dumps(out))
"""


def start_prober(port, seconds):
    """GET /health and /metrics in turn, each on a new connection, every 20 ms, from a process of its own (not this one's GIL);
    each probe as (path, seconds, status, whether the answer holds the live performance gauges)"""
    return subprocess.Popen([sys.executable, '-c', PROBER, str(port), str(seconds)], stdout=subprocess.PIPE, text=True)  # nosec B603


def shed_answer(port):
    "One /predict whose answer is a 503: its Retry-After header and body (None if none was shed in 40 tries)"
    json_body = None
    for _ in range(40):
        data = json.dumps(EXAMPLE_ROW).encode()
        req = urllib.request.Request(f'http://{HOST}:{port}/predict', data=data, headers={'Content-Type': 'application/json'})
        try: urllib.request.urlopen(req, timeout=10).read()  # nosec B310: loopback
        except urllib.error.HTTPError as e:
            if e.code == 503:
                json_body = json.loads(e.read())
                return e.headers.get('Retry-After'), json_body
        time.sleep(0.01)
    return None, json_body


def wait_for_live_gauges(port, timeout: float = 120):
    "Seconds until /metrics holds the live performance gauges (a refresh finished), polling every 0.5 s; None if not within `timeout`"
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        with urllib.request.urlopen(f'http://{HOST}:{port}/metrics', timeout=10) as r:  # nosec B310: loopback
            if b'housing_live_status{' in r.read(): return time.monotonic() - t
        time.sleep(0.5)
    return None


def saturate(port, clients: int, seconds: float, backoff: float):
    "`clients` keep-alive clients posting /predict for `seconds` while a separate process probes; (answers, probes, shed answer)"
    shed = {}
    prober = start_prober(port, seconds - 0.5)
    shedder = threading.Timer(1.5, lambda: shed.update(zip(('retry_after', 'body'), shed_answer(port))))
    shedder.start()
    answers = hammer(port, [requests_cycle(port, '/predict', [EXAMPLE_ROW], 100_000) for _ in range(clients)], seconds=seconds,
                     backoff=backoff)
    shedder.join()
    return answers, json.loads(prober.communicate(timeout=60)[0]), shed


def figures(probes, label):
    lat = {p: np.array([s for q, s, st, _ in probes if q == p and st == 200]) * 1000 for p in ('/health', '/metrics')}
    for p, v in lat.items():
        print(f'\n{label}: {p} {len(v)} probes, p50 {np.percentile(v, 50):.1f} ms, p99 {np.percentile(v, 99):.1f} ms, max {v.max():.1f} ms')
    return lat


def test_saturating_load_is_shed_and_health_and_metrics_answer_within_100_ms(tmp_path):
    """32 clients on a worker whose model takes 50 ms per call, at most 8 requests in flight: the model is saturated all along.

    Clients that honour the 503 (wait before retrying, as Retry-After asks) are the asserted case; a flood of clients that retry
    at once is measured and printed too: it measures how fast the HTTP stack turns requests away on this machine, not the model
    path (which never blocks the event loop)."""
    # the live-performance refresh is on, as a user runs it, every 2 s: its first run (it imports MLflow, creates the store, loads
    # the data) starts with the server and overlaps the load; it runs in a child process, off this worker's interpreter. The shadow
    # stays off: its challenger lookup imports MLflow in this worker, and still took /health or /metrics p99 to 31-131 ms here
    port, proc = start_slow_server(tmp_path, SLOW_MODEL_SECONDS='0.05', HOUSING_MAX_IN_FLIGHT='8', HOUSING_MICROBATCH='off',
                                   HOUSING_REQUEST_TIMEOUT='5', HOUSING_PERF_REFRESH_S='2', HOUSING_SHADOW='0')
    try:
        answers, probes, shed = saturate(port, 32, 6, backoff=0.5)
        flood, flood_probes, _ = saturate(port, 32, 4, backoff=0)
        after = wait_for_live_gauges(port)
    finally: stop(proc)
    statuses = Counter(st for st, _ in answers)
    print(f'\nsaturated: {statuses[200]} answered (200), {statuses[503]} shed (503) in 6 s; flood: '
          f'{dict(Counter(st for st, _ in flood))} in 4 s')
    lat = figures(probes, 'saturated, clients back off 0.5 s after a 503')
    first = next((i for i, (*_, live) in enumerate(probes + flood_probes) if live), None)
    print(f'live performance gauges first seen at probe {first} of {len(probes)} saturated + {len(flood_probes)} flood'
          + ('' if first is not None else f', {after:.1f} s after the load' if after is not None else ', never'))
    figures(flood_probes, 'flood, clients retry at once')
    assert set(statuses) <= {200, 503} and set(Counter(st for st, _ in flood)) <= {200, 503}, statuses
    assert statuses[200] > 20 and statuses[503] > 0, statuses
    assert all('HOUSING_MAX_IN_FLIGHT' in b['detail'] for st, b in answers + flood if st == 503)
    assert shed.get('retry_after') == '1', shed
    assert all(st == 200 for _, _, st, _ in probes + flood_probes) and all(len(v) > 20 for v in lat.values())
    assert first != 0 and after is not None, 'the first live performance refresh must run during the load, and finish'
    for p, v in lat.items(): assert np.percentile(v, 99) < 100, (p, np.percentile(v, 99))
    answered = {b['request_id'] for st, b in answers + flood if st == 200}
    assert set(read_predictions(tmp_path/'log.db').request_id) >= answered


def test_a_model_slower_than_the_request_timeout_is_a_503(tmp_path):
    port, proc = start_slow_server(tmp_path, SLOW_MODEL_SECONDS='0.6', HOUSING_REQUEST_TIMEOUT='0.2', HOUSING_MICROBATCH='on')
    try:
        (st, body), = hammer(port, [list(requests_cycle(port, '/predict', [EXAMPLE_ROW], 1))])
        health = get_json(port, '/health')
    finally: stop(proc)
    assert st == 503 and 'HOUSING_REQUEST_TIMEOUT' in body['detail'], body
    assert health[0] == 200
