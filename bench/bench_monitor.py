#!/usr/bin/env python
"""Benchmark the drift report end to end: full reference (the champion's 16,512 training rows) against 10,000
logged rows, rendered through papermill into self-contained HTML, as `housing monitor` does.

Writes 10,000 iid rows into a temporary prediction log with the traffic simulator (`--direct`), then times
`housing.monitor.run_monitor` (kernel start, the notebook, HTML export, JSON, log lines) `--repeat` times and prints
each run's wall time and HTML size. The first run is cold (it loads the champion to predict its held-out rows); later
runs reuse those predictions from the report folder's cache, as a scheduled `housing monitor` does. Exit status 1 when
the cold or the median time is 20 s or more, or the HTML is 5 MB or more (issue 4's targets). Nothing is written into the repo: the log, reports and alert log go to a temporary directory.

    .venv/bin/python bench/bench_monitor.py                # the project's champion (MLFLOW_TRACKING_URI / mlflow.db)
    .venv/bin/python bench/bench_monitor.py --temp-store   # train a small model into a temporary store first
    .venv/bin/python bench/bench_monitor.py --rows 10000 --repeat 3 --json reports/bench/monitor.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIME_BUDGET_S, SIZE_BUDGET_B = 20.0, 5_000_000


def _temp_store(d: Path) -> str:
    "A small hist_gradient_boosting champion in a temporary MLflow store (for machines without `housing pipeline`)"
    from housing import train
    from housing.tracking import promote_best
    uri = f"sqlite:///{d/'mlflow.db'}"
    os.environ['MLFLOW_TRACKING_URI'] = uri
    train.start_run('hist_gradient_boosting', uri, 'bench-monitor')
    train.log_result(train.fit_evaluate('hist_gradient_boosting', {'max_iter': 100}, seed=42, cv_folds=0))
    train.end_run()
    promote_best(metric='test_rmse', tracking_uri=uri)  # no CV here: rank by test RMSE
    return uri


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rows', type=int, default=10_000, help='logged rows in the current sample (default 10,000)')
    p.add_argument('--scenario', default='iid', help='traffic scenario of the logged rows (default iid)')
    p.add_argument('--repeat', type=int, default=3, help='report renders to time (default 3)')
    p.add_argument('--temp-store', action='store_true', help='train a small champion into a temporary MLflow store first')
    p.add_argument('--json', help='also write the results to this JSON file')
    a = p.parse_args(argv)
    shared = ROOT.parent/'shared'/'data'/'cal_housing.data'
    if 'HOUSING_RAW_DATA' not in os.environ and shared.exists(): os.environ['HOUSING_RAW_DATA'] = str(shared)
    work = Path(tempfile.mkdtemp(prefix='bench-monitor-'))
    if a.temp_store: print(f'temporary champion in {_temp_store(work)}')

    from housing.monitor import MonitorError, load_reference, run_monitor
    from housing.simulate import simulate
    try: ref = load_reference(cache=False)  # loads the champion (the simulator predicts with it); no cache written
    except MonitorError as e:
        print(f'bench_monitor: {e}\n(or run with --temp-store)', file=sys.stderr); return 2
    log = work/'predictions.db'
    simulate(a.rows, a.scenario, direct=True, seed=0, prediction_log=log, reference=ref, quiet=True)
    print(f"reference: {ref.info['model_name']} v{ref.info['model_version']} ({ref.info['model']}), {len(ref.X_train):,} training rows; "
          f"current: {a.rows:,} logged {a.scenario} rows")

    runs, out = [], work/'drift'  # one output folder: the first run is cold, later ones reuse the held-out predictions
    for i in range(a.repeat):
        printed = []
        t = time.perf_counter()
        code = run_monitor(prediction_log=log, output_dir=out, log_path=work/'model_monitor.log', echo=printed.append)
        wall = time.perf_counter() - t
        if code != 0: print('\n'.join(printed), file=sys.stderr); return 2
        html = sorted(out.glob('*.html'), key=lambda f: f.stat().st_mtime)[-1]
        summary = json.loads(html.with_suffix('.json').read_text())
        runs.append(dict(run=i + 1, cache='cold' if i == 0 else 'warm', wall_s=round(wall, 2), html_bytes=html.stat().st_size, status=summary['status'],
                         current_rows=summary['current']['rows'], reference_rows=summary['reference']['rows']))
        print(f"run {i + 1} ({runs[-1]['cache']}): {wall:6.2f} s  HTML {html.stat().st_size / 1e6:5.2f} MB  status {summary['status']}  ({html})")

    med = statistics.median(r['wall_s'] for r in runs)
    cold = runs[0]['wall_s']
    size = max(r['html_bytes'] for r in runs)
    ok = max(med, cold) < TIME_BUDGET_S and size < SIZE_BUDGET_B
    print(f"\n| reference rows | current rows | runs | cold s | median s | min s | max s | HTML MB | load avg (1 min) |\n"
          f"|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
          f"| {runs[0]['reference_rows']:,} | {runs[0]['current_rows']:,} | {len(runs)} | {cold:.2f} | {med:.2f} | "
          f"{min(r['wall_s'] for r in runs):.2f} | {max(r['wall_s'] for r in runs):.2f} | {size / 1e6:.2f} | {os.getloadavg()[0]:.1f} |")
    print(f"targets: < {TIME_BUDGET_S:.0f} s end to end, HTML < {SIZE_BUDGET_B / 1e6:.0f} MB: {'met' if ok else 'NOT MET'}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(dict(runs=runs, cold_s=cold, median_s=med, max_html_bytes=size, ok=ok), indent=1))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
