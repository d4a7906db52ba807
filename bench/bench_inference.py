"""In-process per-row predict latency: the champion pipeline against its parts (features, model alone).

    python bench/bench_inference.py                       # the registered champion (models:/california-housing@champion)
    python bench/bench_inference.py --model lightgbm_geo   # a catalogue model fitted here on the 80/20 split
    python bench/bench_inference.py --rows 500 --json reports/bench/inference.json

The API calls `pipeline.predict(row)` with a (1, 8) float array; this measures exactly that, plus the feature
steps alone, the final step alone (as the pipeline calls it), and the library's own scikit-learn `predict`
for comparison: wall-clock median and p95 (best of 3 passes) and mean CPU time per row (what a row costs on an
idle core; on a busy machine wall time inflates, CPU time does not). Exit status 1 when the median per-row
wall latency of the pipeline exceeds --budget-ms (2 ms).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _timings(fn, rows, passes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    "Wall and CPU milliseconds of `fn(row)` per row, from the pass with the lowest median wall time"
    fn(rows[:1])  # warm-up
    best = None
    for _ in range(passes):
        wall, cpu = [], []
        for r in rows:
            r = r.reshape(1, -1)
            t, c = time.perf_counter(), time.process_time()
            fn(r)
            wall.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
        if best is None or np.median(wall) < np.median(best[0]): best = (wall, cpu)
    return np.array(best[0]) * 1000, np.array(best[1]) * 1000


def _summary(times) -> dict:
    wall, cpu = times
    # CPU time of a one-thread predict is what it costs on an idle core: robust when the machine is busy
    return {'median_ms': float(np.median(wall)), 'p95_ms': float(np.percentile(wall, 95)), 'mean_ms': float(wall.mean()),
            'cpu_mean_ms': float(cpu.mean())}


def load_pipeline(model: str | None, model_uri: str | None, seed: int):
    "The champion (or `model_uri`) from the registry, or catalogue `model` fitted on the training split"
    from housing.data import FEATURES, load_housing, split_train_test
    df = load_housing()
    X_train, X_test, y_train, _ = split_train_test(df, seed=seed)
    if model:
        from housing.models import make_model
        t = time.perf_counter()
        pipe = make_model(model).fit(X_train, y_train)
        return pipe, f'{model} (fitted here in {time.perf_counter() - t:.0f} s)', X_test[FEATURES].to_numpy(np.float64)
    from housing.tracking import load_model
    lm = load_model(model_uri)
    return lm.pipeline, f"{lm.uri} = version {lm.version} ({lm.metadata.get('model', '?')})", X_test[FEATURES].to_numpy(np.float64)


def bench(pipe, rows: np.ndarray) -> dict:
    "Per-row latency of the pipeline, its feature steps, its final step and the underlying library predict"
    from sklearn.pipeline import Pipeline
    from housing.models import final_estimator
    res = {'pipeline': _summary(_timings(pipe.predict, rows))}
    if len(pipe.steps) > 1:
        features = Pipeline(pipe.steps[:-1])
        transformed = features.transform(rows)
        res['features'] = _summary(_timings(features.transform, rows))
        res['final_step'] = _summary(_timings(pipe.steps[-1][1].predict, transformed))
        est = final_estimator(pipe)
        if est is not pipe.steps[-1][1]:
            res['library_predict'] = _summary(_timings(est.predict, transformed))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', help='catalogue name to fit here instead of loading the champion')
    ap.add_argument('--model-uri', default=None, help='registry URI (default: the champion)')
    ap.add_argument('--rows', type=int, default=300, help='test rows to time, one at a time')
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--budget-ms', type=float, default=2.0, help='fail when the pipeline median exceeds this')
    ap.add_argument('--json', type=Path, help='also write the results here')
    ns = ap.parse_args(argv)
    pipe, what, X = load_pipeline(ns.model, ns.model_uri, ns.seed)
    res = bench(pipe, X[:ns.rows])
    print(f'per-row predict latency, {min(ns.rows, len(X))} test rows one at a time: {what}')
    print(f"{'part':<18}{'median ms':>11}{'p95 ms':>9}{'CPU ms':>9}")
    for part, s in res.items(): print(f"{part:<18}{s['median_ms']:>11.3f}{s['p95_ms']:>9.3f}{s['cpu_mean_ms']:>9.3f}")
    ok = res['pipeline']['median_ms'] <= ns.budget_ms
    print(f"{'OK' if ok else 'OVER BUDGET'}: median {res['pipeline']['median_ms']:.3f} ms vs budget {ns.budget_ms} ms")
    if ns.json:
        ns.json.parent.mkdir(parents=True, exist_ok=True)
        ns.json.write_text(json.dumps({'what': what, 'budget_ms': ns.budget_ms, 'ok': ok, **res}, indent=2))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
