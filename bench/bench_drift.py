#!/usr/bin/env python
"""Calibration of the drift statuses: false alarms on stable traffic and detection of known shifts, per window size.

Calls the pure statistics in-process (`compare` on in-memory samples, no papermill), on the real data: the reference
is the training split (seed 42), windows are drawn from the held-out split by the traffic simulator
(`housing.simulate.draw_rows`), and a small gradient-boosted regressor fitted on the training split stands in for the
champion (prediction drift). Prints three tables:

1. false alarms: for `iid` windows of each size, how many of the seeds ended ALERT / WARN / TOO_FEW / OK
   (the multivariate checks included), and how many of those ALERTs each multivariate check raised (the domain
   classifier, the PCA reconstruction error);
2. detection: for `income_shift` and `coastal_shift`, how many seeds ended ALERT at each size, and the smallest size
   caught in at least 19 of 20 (univariate checks only: a lower bound, the multivariate check can only add ALERTs);
3. `joint_shift` (marginals kept, incomes handed to other blocks) at 3,000 rows: how often the multivariate checks
   ALERT (each of them), and how often every feature's status stays OK; then, per window size, how often each
   multivariate check catches `joint_shift` (20 seeds), which is where the PCA check earns its place: it judges
   from 50 rows, the classifier from 200 (what bench_pca_check.py measured before the check moved into the library).

Works on older versions of `housing` too (no multivariate check, no `joint_shift`: the bench then draws that
scenario itself), to compare before and after:

    git archive 35a4a9e housing | tar -x -C /tmp/before && PYTHONPATH=/tmp/before .venv/bin/python bench/bench_drift.py
    make bench-drift                      # this checkout
    .venv/bin/python bench/bench_drift.py --seeds 5 --json reports/bench/drift.json
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IID_SIZES = (50, 100, 300, 1_000, 10_000, 100_000)
DETECT_SIZES = (50, 100, 200, 300, 500, 1_000, 3_000, 10_000, 100_000)
JOINT_ROWS = 3_000
JOINT_SIZES = (50, 100, 200, 300, 1_000)


def _setup():
    "Reference rows, held-out pool, ranges, a stand-in champion and its predictions on the held-out rows"
    from sklearn.ensemble import HistGradientBoostingRegressor

    from housing.data import FEATURES, feature_ranges, load_housing, split_train_test
    X_train, X_test, y_train, _ = split_train_test(load_housing(), seed=42)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(X_train[FEATURES].to_numpy(), y_train)
    return X_train.reset_index(drop=True), X_test.reset_index(drop=True), feature_ranges(X_train), model


def _draw(pool, n, scenario, seed, ranges):
    from housing import simulate
    if scenario in simulate.SCENARIOS: return simulate.draw_rows(pool, n, scenario, seed, ranges)
    assert scenario == 'joint_shift', scenario  # older housing: draw it as the simulator now does
    rows = simulate.draw_rows(pool, n, 'iid', seed, ranges)
    rows['MedInc'] = np.random.default_rng([seed, 9]).permutation(rows['MedInc'].to_numpy())
    return rows


def _compare():
    try: from housing.drift_report import compare
    except ImportError: from housing.monitor import compare
    return compare, 'multivariate' in inspect.signature(compare).parameters


def _window(setup, scenario, n, seed, multivariate: bool) -> dict:
    from housing.data import FEATURES
    X_train, X_test, ranges, model = setup
    compare, has_mv = _compare()
    rows = _draw(X_test, n, scenario, seed, ranges)
    valid = rows[rows['valid']]
    preds = model.predict(valid[FEATURES].to_numpy())
    kw = dict(multivariate=multivariate) if has_mv else {}
    r = compare(X_train, valid, _ref_preds(setup), preds, ranges, **kw)
    mv = getattr(r, 'multivariate', None)
    return dict(status=r.status, features=list(r.features['status']), prediction=(r.prediction or {}).get('status'),
                multivariate=mv['status'] if mv else None, classifier=_check(mv, 'classifier'), pca=_check(mv, 'pca'))


def _check(mv: dict | None, name: str) -> str | None:
    "One multivariate check's status (older housing: the classifier alone, no PCA check)"
    if not mv: return None
    if 'classifier' not in mv: return mv['status'] if name == 'classifier' else None
    return mv[name]['status']


_CACHE = {}
def _ref_preds(setup):
    from housing.data import FEATURES
    if 'p' not in _CACHE: _CACHE['p'] = setup[3].predict(setup[1][FEATURES].to_numpy())
    return _CACHE['p']


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, default=20, help='windows per size and scenario (default 20)')
    p.add_argument('--json', help='also write the tables to this JSON file')
    a = p.parse_args(argv)
    shared = ROOT.parent/'shared'/'data'/'cal_housing.data'
    if 'HOUSING_RAW_DATA' not in os.environ and shared.exists(): os.environ['HOUSING_RAW_DATA'] = str(shared)
    import housing
    t0, setup, seeds = time.perf_counter(), _setup(), range(a.seeds)
    has_mv = _compare()[1]
    print(f"housing from {Path(housing.__file__).parent}; multivariate check: {'yes' if has_mv else 'no'}; {a.seeds} seeds\n")
    out = dict(seeds=a.seeds, multivariate=has_mv, iid={}, detection={}, joint={})

    print(f'False alarms on iid windows (of {a.seeds}):\n| rows | ALERT | WARN | TOO_FEW | OK | classifier ALERT | PCA ALERT | s |\n'
          '|---:|---:|---:|---:|---:|---:|---:|---:|')
    for n in IID_SIZES:
        t = time.perf_counter()
        ws = [_window(setup, 'iid', n, s, True) for s in seeds]
        st = [w['status'] for w in ws]
        out['iid'][n] = {k: st.count(k) for k in ('ALERT', 'WARN', 'TOO_FEW', 'OK')}
        out['iid'][n].update({f'{c}_alert': sum(w[c] == 'ALERT' for w in ws) if any(w[c] for w in ws) else None for c in ('classifier', 'pca')})
        print(f"| {n:,} | " + ' | '.join('n/a' if v is None else str(v) for v in out['iid'][n].values()) + f' | {time.perf_counter() - t:.0f} |', flush=True)

    print(f'\nDetection: windows ending ALERT (of {a.seeds}), univariate checks only\n| scenario | '
          + ' | '.join(f'{n:,}' for n in DETECT_SIZES) + ' | smallest caught 19/20 |\n|---|' + '---:|' * (len(DETECT_SIZES) + 1))
    for sc in ('income_shift', 'coastal_shift'):
        hits = {n: sum(_window(setup, sc, n, s, False)['status'] == 'ALERT' for s in seeds) for n in DETECT_SIZES}
        need = a.seeds - a.seeds // 20
        smallest = next((n for n in DETECT_SIZES if all(hits[m] >= need for m in DETECT_SIZES if m >= n)), None)
        out['detection'][sc] = dict(hits=hits, smallest_caught=smallest)
        print(f'| {sc} | ' + ' | '.join(str(hits[n]) for n in DETECT_SIZES) + f" | {f'{smallest:,}' if smallest else 'none'} |", flush=True)

    ws = [_window(setup, 'joint_shift', JOINT_ROWS, s, True) for s in seeds]
    j = dict(multivariate_alert=sum(w['multivariate'] == 'ALERT' for w in ws), classifier_alert=sum(w['classifier'] == 'ALERT' for w in ws),
             pca_alert=sum(w['pca'] == 'ALERT' for w in ws) if ws[0]['pca'] else None, features_all_ok=sum(set(w['features']) == {'OK'} for w in ws),
             window_alert=sum(w['status'] == 'ALERT' for w in ws), prediction={k: sum(w['prediction'] == k for w in ws) for k in ('OK', 'WARN', 'ALERT')})
    out['joint'] = j
    print(f"\njoint_shift at {JOINT_ROWS:,} rows ({a.seeds} seeds): multivariate ALERT {j['multivariate_alert'] if has_mv else 'n/a (no check)'} "
          f"(classifier {j['classifier_alert']}, PCA {'n/a' if j['pca_alert'] is None else j['pca_alert']}), "
          f"every feature OK {j['features_all_ok']}, window ALERT {j['window_alert']}, prediction statuses {j['prediction']}")
    if has_mv:
        print(f'\njoint_shift caught by each multivariate check (ALERT, of {a.seeds}), per window size\n| check | '
              + ' | '.join(f'{n:,}' for n in JOINT_SIZES) + ' |\n|---|' + '---:|' * len(JOINT_SIZES))
        ws = {n: [_window(setup, 'joint_shift', n, s, True) for s in seeds] for n in JOINT_SIZES}
        out['joint']['by_size'] = {c: {n: sum(w[c] == 'ALERT' for w in ws[n]) for n in JOINT_SIZES} for c in ('classifier', 'pca')}
        for c, label in (('classifier', 'domain classifier'), ('pca', 'PCA reconstruction')):
            print(f'| {label} | ' + ' | '.join('too few rows' if all(w[c] == 'TOO_FEW' for w in ws[n]) else str(out['joint']['by_size'][c][n])
                                               for n in JOINT_SIZES) + ' |', flush=True)
    print(f'\n{time.perf_counter() - t0:.0f} s in all (load average {os.getloadavg()[0]:.1f})')
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
