#!/usr/bin/env python
"""Benchmark `housing serve` against `mlflow models serve` on the same registered model.

Starts, on loopback ports, with one worker each and the same model:
  floor      a constant-returning ASGI app on the same uvicorn stack (what HTTP alone costs)
  housing    `housing serve` (validation, prediction log, metrics on)
  housing+mb `housing serve --microbatch`
  mlflow     `mlflow models serve -m MODEL --env-manager local -w 1`
then drives each with the same load generator (keep-alive HTTP/1.1 clients on asyncio, one request in
flight per connection) at concurrency 1 and 16, times a 1,000-row batch, and prints a table with ratios
to mlflow. Runs are bounded (--seconds per measurement) and every server is stopped at the end.

  .venv/bin/python bench/bench_api.py                 # the project's champion (MLFLOW_TRACKING_URI / mlflow.db)
  .venv/bin/python bench/bench_api.py --temp-store    # train a small model into a temporary store first
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess  # nosec B404: starts the servers it measures, with fixed argument lists
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = '127.0.0.1'

FLOOR_APP = '''
import uvicorn
BODY = b'{"prediction":1.0}'
HEAD = [(b'content-type', b'application/json'), (b'content-length', str(len(BODY)).encode())]
async def app(scope, receive, send):
    if scope['type'] != 'http': return
    more = True
    while more: more = (await receive()).get('more_body', False)
    await send({'type': 'http.response.start', 'status': 200, 'headers': HEAD})
    await send({'type': 'http.response.body', 'body': BODY})
uvicorn.run(app, host='127.0.0.1', port=int(__import__('sys').argv[1]), log_level='warning', access_log=False, server_header=False)
'''


# ---------------------------------------------------------------- load generator
class _Client(asyncio.Protocol):
    "One keep-alive connection: sends a request, reads the response, sends the next"
    def __init__(self, gen, offset: int):
        self.g, self.i, self.buf, self.need, self.t = gen, offset, bytearray(), None, 0.0
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def _send(self):
        g = self.g
        if time.perf_counter() >= g.stop_at:
            self.transport.close(); return
        self.t = time.perf_counter()
        self.transport.write(g.requests[self.i % len(g.requests)]); self.i += 1

    def data_received(self, data):
        self.buf += data
        while True:
            if self.need is None:
                end = self.buf.find(b'\r\n\r\n')
                if end < 0: return
                head = bytes(self.buf[:end]).lower()
                k = head.find(b'content-length:')
                if k < 0: raise RuntimeError('response without Content-Length: ' + head[:200].decode(errors='replace'))
                length = int(head[k + 15:head.find(b'\r\n', k) if head.find(b'\r\n', k) > 0 else None])
                self.status, self.need = int(head[9:12]), end + 4 + length
            if len(self.buf) < self.need: return
            del self.buf[:self.need]
            self.need = None
            now = time.perf_counter()
            self.g.record(now, now - self.t, self.status)
            self._send()

    def connection_lost(self, exc):
        self.g.lost += 1 if exc is not None else 0
        self.g.closed += 1
        if self.g.closed == self.g.concurrency and not self.g.done.done(): self.g.done.set_result(None)


class _Load:
    "Shared state of one measurement"
    def __init__(self, requests, concurrency, warmup, seconds):
        self.requests, self.concurrency = requests, concurrency
        t = time.perf_counter()
        self.measure_from, self.stop_at = t + warmup, t + warmup + seconds
        self.lat, self.errors, self.lost, self.closed, self.all = [], 0, 0, 0, 0
        self.first = self.last = None

    def record(self, now, dt, status):
        self.all += 1
        if now < self.measure_from: return
        if self.first is None: self.first = now
        self.last = now
        self.lat.append(dt)
        if status != 200: self.errors += 1


async def _drive(port, requests, concurrency, warmup, seconds) -> dict:
    loop = asyncio.get_running_loop()
    g = _Load(requests, concurrency, warmup, seconds)
    g.done = loop.create_future()
    for i in range(concurrency):
        await loop.create_connection(lambda i=i: _Client(g, i * 7919), HOST, port)
    await asyncio.wait_for(g.done, warmup + seconds + 30)
    lat = sorted(g.lat)
    n = len(lat)
    span = (g.last - g.first) if n > 1 else float('nan')
    pct = lambda q: lat[min(n - 1, int(q * n))] * 1000 if n else float('nan')
    return dict(requests=n, rps=(n - 1) / span if n > 1 else 0.0, p50_ms=pct(0.50), p99_ms=pct(0.99), errors=g.errors + g.lost,
                all_requests=g.all)


def load(port: int, requests: list[bytes], concurrency: int, seconds: float = 5.0, warmup: float = 1.0, pgid: int | None = None) -> dict:
    "Drive `port` with `concurrency` keep-alive clients for `seconds` (after `warmup`): req/s, p50, p99, errors, server CPU ms per request"
    cpu0 = group_cpu(pgid) if pgid else None
    try: import uvloop; r = uvloop.run(_drive(port, requests, concurrency, warmup, seconds))
    except ImportError: r = asyncio.run(_drive(port, requests, concurrency, warmup, seconds))
    if pgid:  # CPU over warm-up and measurement, per request answered in both (robust to other load on the machine)
        r['cpu_ms_per_req'] = (group_cpu(pgid) - cpu0) * 1000 / max(1, r.pop('all_requests'))
    else: r.pop('all_requests')
    return r


def group_cpu(pgid: int) -> float:
    "CPU seconds (user + system) used so far by the processes of group `pgid`"
    tick, total = os.sysconf('SC_CLK_TCK'), 0.0
    for d in Path('/proc').iterdir():
        if not d.name.isdigit(): continue
        try: f = (d/'stat').read_text().rsplit(')', 1)[1].split()
        except OSError: continue
        if int(f[2]) == pgid: total += (int(f[11]) + int(f[12])) / tick
    return total


def http_request(port: int, path: str, body: bytes) -> bytes:
    return (f'POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n'
            f'Content-Length: {len(body)}\r\n\r\n').encode() + body


# ---------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0)); return s.getsockname()[1]


def wait_http(port: int, path: str, proc: subprocess.Popen, timeout: float = 180.0, log: Path | None = None) -> dict | str:
    "Poll `path` until it answers 200; raise with the server's last output if the process exits first"
    t = time.time()
    while time.time() - t < timeout:
        if proc.poll() is not None:
            tail = log.read_text()[-1500:] if log and log.exists() else ''
            raise RuntimeError(f'server on port {port} exited with {proc.returncode}' + (f':\n{tail}' if tail else ''))
        try:
            with urllib.request.urlopen(f'http://{HOST}:{port}{path}', timeout=2) as r:  # nosec B310: loopback only
                txt = r.read().decode()
                try: return json.loads(txt)
                except ValueError: return txt
        except OSError: time.sleep(0.3)
    raise TimeoutError(f'server on port {port} not ready after {timeout:.0f} s')


def post(port: int, path: str, data: bytes) -> tuple[int, dict, float]:
    "POST a JSON body; (status, parsed answer, seconds)"
    req = urllib.request.Request(f'http://{HOST}:{port}{path}', data=data, headers={'Content-Type': 'application/json'})
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r: return r.status, json.loads(r.read()), time.perf_counter() - t  # nosec B310
    except urllib.error.HTTPError as e: return e.code, json.loads(e.read() or b'{}'), time.perf_counter() - t


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    f = open(log, 'w')
    return subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)  # nosec B603


def stop(proc: subprocess.Popen):
    if proc.poll() is not None: return
    try: os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError: return
    try: proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL); proc.wait(10)


# ---------------------------------------------------------------- the benchmark
def temp_store(d: Path) -> str:
    "Train a small hist_gradient_boosting into a temporary store and make it champion (like tests' `trained_store`)"
    uri = f"sqlite:///{d/'mlflow.db'}"
    code = ('import os,sys; from housing import train; from housing.tracking import promote_best\n'
            'uri=sys.argv[1]; os.environ["MLFLOW_TRACKING_URI"]=uri\n'
            'train.start_run("hist_gradient_boosting", uri, "bench")\n'
            'r=train.fit_evaluate("hist_gradient_boosting", {"max_iter": 60}, seed=42, cv_folds=0)\n'
            'train.log_result(r); train.end_run(); print(promote_best(metric="test_rmse", tracking_uri=uri))')
    subprocess.run([sys.executable, '-c', code, uri], check=True, cwd=ROOT)  # nosec B603
    return uri


def sample_rows(n: int) -> list[dict]:
    from housing.data import FEATURES, load_housing, split_train_test
    X_test = split_train_test(load_housing())[1]
    return [dict(zip(FEATURES, map(float, r))) for r in X_test[FEATURES].to_numpy()[:n]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model-uri', default=None, help='default: HOUSING_MODEL_URI or models:/california-housing@champion')
    ap.add_argument('--tracking-uri', default=None, help='default: MLFLOW_TRACKING_URI or sqlite:///<root>/mlflow.db')
    ap.add_argument('--temp-store', action='store_true', help='train a small model into a temporary store and serve that')
    ap.add_argument('--seconds', type=float, default=5.0, help='measured seconds per run (default 5)')
    ap.add_argument('--warmup', type=float, default=1.0, help='unmeasured seconds before each run (default 1)')
    ap.add_argument('--rounds', type=int, default=3, help='repeat every run, interleaved; the table shows medians (default 3)')
    ap.add_argument('--settle', type=float, default=3.0, help='seconds of unmeasured load on each server before the first round (default 3)')
    ap.add_argument('--batch-repeats', type=int, default=5, help='1,000-row requests timed per server and round (default 5)')
    ap.add_argument('--only', default=','.join(SERVERS), help=f'comma-separated subset of {", ".join(SERVERS)}')
    ap.add_argument('--json', help='also write every measurement here')
    ap.add_argument('--check', action='store_true', help="exit 1 unless issue 3's figures are reached")
    a = ap.parse_args(argv)

    from housing.config import get_settings
    from housing.data import FEATURES
    s = get_settings()
    work = Path(tempfile.mkdtemp(prefix='bench-api-'))
    tracking = a.tracking_uri or (temp_store(work) if a.temp_store else s.tracking_uri)
    model_uri = a.model_uri or s.model_uri
    env = {**os.environ, 'MLFLOW_TRACKING_URI': tracking, 'HOUSING_MODEL_URI': model_uri, 'PYTHONUNBUFFERED': '1',
           'OMP_WAIT_POLICY': os.environ.get('OMP_WAIT_POLICY', 'PASSIVE'),
           'PATH': f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # mlflow runs `uvicorn` from PATH
    for k in ('HOUSING_API_KEY', 'HOUSING_MICROBATCH', 'OMP_NUM_THREADS', 'HOUSING_MODEL_THREADS',
              'MLFLOW_ALLOW_PICKLE_DESERIALIZATION'): env.pop(k, None)  # both servers load the skops files, no pickle
    which = [w.strip() for w in a.only.split(',') if w.strip()]
    unknown = sorted(set(which) - set(SERVERS))
    if unknown: ap.error(f'unknown server(s) {", ".join(unknown)}; choose from {", ".join(SERVERS)}')
    housing_cmd = [str(BIN/'housing')] if (BIN/'housing').exists() else [sys.executable, '-c', 'from housing.cli import _entry; _entry()']
    mlflow_cmd = [str(BIN/'mlflow'), 'models', 'serve', '-m', model_uri, '--env-manager', 'local', '-w', '1', '-h', HOST]
    specs = {  # name -> (command without port, extra environment, single-row path)
        'floor': ([sys.executable, '-c', FLOOR_APP], {}, '/'),
        'housing': (housing_cmd + ['serve', '--no-microbatch'], {'HOUSING_PREDICTION_LOG': str(work/'housing.db')}, '/predict'),
        'housing+mb': (housing_cmd + ['serve', '--microbatch'], {'HOUSING_PREDICTION_LOG': str(work/'housing-mb.db')}, '/predict'),
        'mlflow': (mlflow_cmd, {}, '/invocations'),
        'mlflow-1t': (mlflow_cmd, {'OMP_NUM_THREADS': '1'}, '/invocations'),  # as `mlflow`, the model on one thread as in `housing`
    }
    print(f'benchmark: {model_uri} from {tracking}\n  {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, '
          f"OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}, {a.settle:g} s settling per server, then {a.rounds} round(s) of "
          f"{a.warmup:g} s warm-up + {a.seconds:g} s per run; "
          f'server logs in {work}', flush=True)
    results = {w: [] for w in which}
    servers = {}
    try:
        for name in which:
            cmd, extra, path = specs[name]
            port = free_port()
            cmd = cmd + (['-p', str(port)] if name.startswith('mlflow') else ['--port', str(port)] if name.startswith('housing') else [str(port)])
            servers[name] = (start(cmd, {**env, **extra}, work/f'{name}.log'), port, path)
        for name, (proc, port, _) in servers.items():
            health = wait_http(port, '/health' if name.startswith('housing') else '/ping' if name.startswith('mlflow') else '/', proc,
                               log=work/f'{name}.log')
            if name.startswith('housing') and not health.get('model_loaded'):
                raise RuntimeError(f"{name} has no model: {health.get('reason')}\n(train and promote one with `housing pipeline`, "
                                   'or pass --temp-store to benchmark a small model trained for the purpose)')
        rows = sample_rows(1000)
        split = lambda rs: json.dumps({'dataframe_split': {'columns': FEATURES, 'data': [list(r.values()) for r in rs]}}).encode()
        single, batch = {}, {}
        for name, (_, port, path) in servers.items():
            mlflow = name.startswith('mlflow')
            single[name] = [http_request(port, path, split([r]) if mlflow else json.dumps(r).encode()) for r in rows[:256]]
            batch[name] = ('/invocations', split(rows)) if mlflow else ('/predict/batch', json.dumps({'instances': rows}).encode())
        if 'housing' in servers and 'mlflow' in servers:  # the same model behind both: the same predictions
            h = post(servers['housing'][1], '/predict/batch', json.dumps({'instances': rows[:20]}).encode())[1]['predictions']
            m = post(servers['mlflow'][1], '/invocations', split(rows[:20]))[1]['predictions']
            diff = max(abs(x - y) for x, y in zip(h, m))
            print(f'  same model: housing and mlflow predictions differ by at most {diff:.1e} on 20 rows', flush=True)
            if diff > 1e-6: raise RuntimeError('housing and mlflow do not serve the same model')
        if 'housing' in servers:
            info = json.loads(urllib.request.urlopen(f'http://{HOST}:{servers["housing"][1]}/model/info').read())  # nosec B310
            print(f"  model: {info['name']} version {info['version']} ({info['model']}); one-row predict "
                  f"{info['metrics'].get('predict_latency_ms', float('nan')):.2f} ms in-process when trained", flush=True)
        for name, (_, port, _) in servers.items():  # first requests load code and warm caches: not what is measured
            if a.settle > 0: load(port, single[name], 4, seconds=a.settle, warmup=0)
        for rnd in range(a.rounds):
            for c in (1, 16):
                for name, (proc, port, _) in servers.items():
                    r = load(port, single[name], c, a.seconds, a.warmup, proc.pid)
                    results[name].append(dict(round=rnd, concurrency=c, **r))
                    print(f'  round {rnd + 1} {name:<11} c={c:<3} {r["rps"]:7.0f} req/s  p50 {r["p50_ms"]:7.2f} ms  '
                          f'p99 {r["p99_ms"]:7.2f} ms  server CPU {r["cpu_ms_per_req"]:6.3f} ms/req  errors {r["errors"]}  '
                          f'(load average {os.getloadavg()[0]:.1f})', flush=True)
            for name, (_, port, _) in servers.items():
                if name == 'floor': continue
                times = []
                for _ in range(a.batch_repeats):
                    st, out, dt = post(port, *batch[name])
                    if st != 200: raise RuntimeError(f'{name} 1,000-row batch: {st} {str(out)[:300]}')
                    times.append(dt * 1000)
                results[name].append(dict(round=rnd, concurrency='batch1000', batch_ms=_median(times)))
                print(f'  round {rnd + 1} {name:<11} 1,000-row batch {_median(times):7.1f} ms (median of {len(times)})', flush=True)
        if 'housing' in servers:
            st = json.loads(urllib.request.urlopen(f'http://{HOST}:{servers["housing"][1]}/ready').read())  # nosec B310
            if not st['prediction_log']['writable']: print(f"  housing log: {st['prediction_log']}", flush=True)
    finally:
        for proc, *_ in servers.values(): stop(proc)
    table, verdicts = summarise(results)
    print('\n' + table + '\n')
    for v in verdicts: print(v)
    if a.json: Path(a.json).write_text(json.dumps(dict(results=results, model_uri=model_uri, tracking_uri=tracking), indent=1))
    return 1 if a.check and any(v.startswith('FAIL') for v in verdicts) else 0


SERVERS = ('floor', 'housing', 'housing+mb', 'mlflow', 'mlflow-1t')


def _median(xs):
    xs = sorted(x for x in xs if x == x)
    if not xs: return float('nan')
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2


def summarise(results: dict) -> tuple[str, list[str]]:
    "Markdown table (medians over rounds) with ratios to `mlflow`, and the verdicts against issue 3's figures"
    def get(name, c, key):
        return _median([r[key] for r in results.get(name, []) if r['concurrency'] == c and key in r])
    def row(name):
        return {k: get(name, c, key) for k, c, key in [
            ('rps1', 1, 'rps'), ('p50_1', 1, 'p50_ms'), ('p99_1', 1, 'p99_ms'), ('cpu1', 1, 'cpu_ms_per_req'), ('rps16', 16, 'rps'),
            ('p50_16', 16, 'p50_ms'), ('p99_16', 16, 'p99_ms'), ('cpu16', 16, 'cpu_ms_per_req'), ('batch', 'batch1000', 'batch_ms')]}
    ratio = lambda a, b: f'{a / b:.2f}x' if a == a and b == b and b > 0 else '-'
    num = lambda x, fmt: '-' if x != x else format(x, fmt)
    ml = row('mlflow')
    lines = ['| server | c=1 req/s | c=1 p50 / p99 ms | c=16 req/s | c=16 p50 / p99 ms | server CPU ms/req (c=1 / c=16) '
             '| 1,000-row batch ms | req/s vs mlflow (c=1 / c=16) | mlflow p99 / p99 (c=16) | batch vs mlflow |',
             '|' + '---|' * 10]
    for name in results:
        r = row(name)
        lines.append(f"| {name} | {num(r['rps1'], '.0f')} | {num(r['p50_1'], '.2f')} / {num(r['p99_1'], '.2f')} | {num(r['rps16'], '.0f')} "
                     f"| {num(r['p50_16'], '.1f')} / {num(r['p99_16'], '.1f')} | {num(r['cpu1'], '.2f')} / {num(r['cpu16'], '.2f')} "
                     f"| {num(r['batch'], '.1f')} | {ratio(r['rps1'], ml['rps1'])} / {ratio(r['rps16'], ml['rps16'])} "
                     f"| {ratio(ml['p99_16'], r['p99_16'])} | {ratio(ml['batch'], r['batch'])} |")
    errors = sum(r.get('errors', 0) for rs in results.values() for r in rs)
    verdicts = []
    if 'mlflow' in results and 'housing' in results:
        h = row('housing')
        chk = lambda ok, text: verdicts.append(('PASS ' if ok else 'FAIL ') + text)
        chk(h['rps1'] >= 3 * ml['rps1'], f"single-row req/s at c=1 >= 3x mlflow: {h['rps1'] / ml['rps1']:.2f}x")
        chk(h['rps16'] >= 3 * ml['rps16'], f"single-row req/s at c=16 >= 3x mlflow: {h['rps16'] / ml['rps16']:.2f}x")
        chk(h['p99_16'] <= ml['p99_16'] / 4, f"p99 at c=16 <= 1/4 of mlflow's: {h['p99_16']:.1f} ms vs {ml['p99_16']:.1f} ms")
        if 'housing+mb' in results:
            mb = get('housing+mb', 16, 'rps')
            chk(mb >= 5 * ml['rps16'], f"micro-batching req/s at c=16 >= 5x mlflow: {mb / ml['rps16']:.2f}x")
    verdicts.append(('PASS' if errors == 0 else 'FAIL') + f' errors under load: {errors}')
    return '\n'.join(lines), verdicts


if __name__ == '__main__':
    try: sys.exit(main())
    except (RuntimeError, TimeoutError) as e:
        print(f'bench-api: error: {e}', file=sys.stderr); sys.exit(2)
