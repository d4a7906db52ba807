#!/usr/bin/env python
"""Benchmark the cost of a challenger in shadow: the champion's throughput with and without it, same run.

Trains (or uses) a store whose registered model has a `champion` and a `challenger` version, starts two
`housing serve` processes on loopback ports on the same champion and log settings, one with
HOUSING_SHADOW=off and one with HOUSING_SHADOW=on (every served row also predicted by the challenger, in
its own thread, from a bounded buffer), and drives both with the same keep-alive load generator as
bench_api.py at concurrency 1 and 16, rounds interleaved. Prints throughput, latency, server CPU, the rows
the challenger predicted and shed, and the ratio shadow-on / shadow-off (issue 11: >= 0.90 at c=16).

  .venv/bin/python bench/bench_shadow.py                # train a small champion and challenger into a temporary store
  .venv/bin/python bench/bench_shadow.py --tracking-uri sqlite:///mlflow.db   # a store that has both aliases already
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess  # nosec B404: trains into a temporary store and starts the servers it measures
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import BIN, HOST, ROOT, _median, free_port, http_request, load, sample_rows, start, stop, temp_store, wait_http  # noqa: E402

_CHALLENGER = ('import sys; from housing import train; from housing.tracking import client\n'
               'uri=sys.argv[1]; train.start_run("hist_gradient_boosting", uri, "bench-challenger")\n'
               'r=train.fit_evaluate("hist_gradient_boosting", {"max_iter": 100, "learning_rate": 0.08}, seed=7, cv_folds=0)\n'
               'v=train.log_result(r); train.end_run(); client(uri).set_registered_model_alias("california-housing", "challenger", v); print(v)')


def info(port: int) -> dict:
    return json.loads(urllib.request.urlopen(f'http://{HOST}:{port}/model/info', timeout=10).read())  # nosec B310: loopback


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tracking-uri', default=None, help='a store with champion and challenger aliases; default: train both into a temporary one')
    ap.add_argument('--seconds', type=float, default=5.0, help='measured seconds per run (default 5)')
    ap.add_argument('--warmup', type=float, default=1.0, help='unmeasured seconds before each run (default 1)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds; the table shows medians (default 3)')
    ap.add_argument('--check', action='store_true', help='exit 1 unless shadow-on keeps >= 90 %% of the c=16 throughput')
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix='bench-shadow-'))
    tracking = a.tracking_uri
    if tracking is None:
        tracking = temp_store(work)
        env = {**os.environ, 'MLFLOW_TRACKING_URI': tracking}
        subprocess.run([sys.executable, '-c', _CHALLENGER, tracking], check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # nosec B603
    env = {**os.environ, 'MLFLOW_TRACKING_URI': tracking, 'HOUSING_MODEL_URI': 'models:/california-housing@champion',
           'PYTHONUNBUFFERED': '1', 'OMP_WAIT_POLICY': os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')}
    for k in ('HOUSING_API_KEY', 'HOUSING_MICROBATCH', 'OMP_NUM_THREADS', 'HOUSING_MODEL_THREADS', 'HOUSING_SHADOW'): env.pop(k, None)
    cmd = [str(BIN/'housing')] if (BIN/'housing').exists() else [sys.executable, '-c', 'from housing.cli import _entry; _entry()']
    servers = {}
    print(f'benchmark: shadow off vs on, {tracking}; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; '
          f'{a.rounds} round(s) of {a.warmup:g} s warm-up + {a.seconds:g} s; logs in {work}', flush=True)
    results = {'shadow-off': [], 'shadow-on': []}
    try:
        for name, flag in (('shadow-off', 'off'), ('shadow-on', 'on')):
            port = free_port()
            servers[name] = (start(cmd + ['serve', '--port', str(port)], {**env, 'HOUSING_SHADOW': flag,
                                                                         'HOUSING_PREDICTION_LOG': str(work/f'{name}.db')}, work/f'{name}.log'), port)
        for name, (proc, port) in servers.items(): wait_http(port, '/ready', proc, log=work/f'{name}.log')
        on = servers['shadow-on'][1]
        for _ in range(600):
            if (info(on).get('shadow') or {}).get('version'): break
            __import__('time').sleep(0.5)
        sh = info(on)['shadow']
        if not sh.get('version'): raise RuntimeError(f'the challenger never loaded: {sh}')
        print(f"  champion version {info(on)['version']}, challenger version {sh['version']}", flush=True)
        rows = sample_rows(256)
        single = {n: [http_request(p, '/predict', json.dumps(r).encode()) for r in rows] for n, (_, p) in servers.items()}
        for n, (_, p) in servers.items(): load(p, single[n], 4, seconds=3, warmup=0)  # settle
        for rnd in range(a.rounds):
            for c in (1, 16):
                for name, (proc, port) in (list(servers.items())[::1 if rnd % 2 == 0 else -1]):  # alternate who goes first
                    before = (info(port).get('shadow') or {})
                    r = load(port, single[name], c, a.seconds, a.warmup, proc.pid)
                    after = (info(port).get('shadow') or {})
                    r.update(predicted=after.get('predicted', 0) - before.get('predicted', 0), shed=after.get('shed', 0) - before.get('shed', 0))
                    results[name].append(dict(round=rnd, concurrency=c, **r))
                    print(f'  round {rnd + 1} {name:<10} c={c:<3} {r["rps"]:7.0f} req/s  p50 {r["p50_ms"]:6.2f} ms  p99 {r["p99_ms"]:7.2f} ms  '
                          f'server CPU {r["cpu_ms_per_req"]:6.3f} ms/req  errors {r["errors"]}  shadow predicted {r["predicted"]} '
                          f'shed {r["shed"]}  (load average {os.getloadavg()[0]:.1f})', flush=True)
    finally:
        for proc, _ in servers.values(): stop(proc)
    med = lambda n, c, k: _median([r[k] for r in results[n] if r['concurrency'] == c])
    print('\n| server | c=1 req/s | c=16 req/s | c=16 p50 / p99 ms | server CPU ms/req c=16 | challenger rows predicted / shed (c=16, all rounds) |')
    print('|---|---|---|---|---|---|')
    for n in results:
        pred = sum(r['predicted'] for r in results[n] if r['concurrency'] == 16); shed = sum(r['shed'] for r in results[n] if r['concurrency'] == 16)
        print(f"| {n} | {med(n, 1, 'rps'):.0f} | {med(n, 16, 'rps'):.0f} | {med(n, 16, 'p50_ms'):.1f} / {med(n, 16, 'p99_ms'):.1f} "
              f"| {med(n, 16, 'cpu_ms_per_req'):.2f} | {pred} / {shed} |")
    ratios = [on['rps'] / off['rps'] for off, on in zip([r for r in results['shadow-off'] if r['concurrency'] == 16],
                                                          [r for r in results['shadow-on'] if r['concurrency'] == 16])]
    ratio, ratio1 = med('shadow-on', 16, 'rps') / med('shadow-off', 16, 'rps'), med('shadow-on', 1, 'rps') / med('shadow-off', 1, 'rps')
    cpu16 = med('shadow-off', 16, 'cpu_ms_per_req') / med('shadow-on', 16, 'cpu_ms_per_req')
    cpu1 = med('shadow-off', 1, 'cpu_ms_per_req') / med('shadow-on', 1, 'cpu_ms_per_req')
    print(f"\nshadow overhead: champion throughput with / without a challenger = {ratio:.3f} at c=16 "
          f"(per round: {', '.join(f'{x:.3f}' for x in ratios)}), {ratio1:.3f} at c=1")
    print(f"  by server CPU per request (what bounds throughput on a saturated machine, robust to other load): "
          f"{cpu16:.3f} at c=16, {cpu1:.3f} at c=1 (CPU without / with)")
    ok = ratio >= 0.90
    print(('PASS' if ok else 'FAIL') + f' c=16 throughput with a challenger in shadow >= 0.90 of without: {ratio:.3f}')
    errors = sum(r['errors'] for rs in results.values() for r in rs)
    print(('PASS' if errors == 0 else 'FAIL') + f' errors under load: {errors}')
    return 1 if a.check and (not ok or errors) else 0


if __name__ == '__main__':
    try: sys.exit(main())
    except (RuntimeError, TimeoutError) as e:
        print(f'bench-shadow: error: {e}', file=sys.stderr); sys.exit(2)
