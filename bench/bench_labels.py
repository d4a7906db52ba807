#!/usr/bin/env python
"""Calibration of live performance on labelled traffic: false alarms on `iid`, detection of `concept_shift`, and the
estimated RMSE (direct loss estimation) against the realised one.

For each of 20 seeds, `housing.simulate.draw_rows` draws a window of held-out rows (1,000 by default) with their true
prices; the champion predicts them; `housing.performance.check_performance` judges the realised RMSE against the
champion's test RMSE (ALERT when the bootstrap interval lies wholly above it plus the allowed degradation);
`housing.drift_report.compare` (univariate checks) says whether the features drifted; a `LossEstimator` fitted on the
champion's out-of-fold residuals estimates the window's RMSE without labels. `concept_shift` multiplies the prices of
one region (`CONCEPT_REGION`) by `PRICE_FACTOR` and leaves the features alone, so performance must ALERT while the
drift checks stay quiet.

Done means (issue 11): `iid` -> no performance ALERT in at least 19 of 20; `concept_shift` -> ALERT in 20 of 20 while
feature drift stays OK; estimated RMSE within 15 % of the realised one on `iid`. `tests/feedback/test_label_calibration.py`
asserts it on the test store's champion; this script prints the table for a champion trained here (hist_gradient_boosting,
60 iterations, 5-fold out-of-fold predictions, split seed 42):

    make -o .venv/.installed-stamp bench-labels      # or: .venv/bin/python bench/bench_labels.py --rows 1000 --seeds 20
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

SCENARIOS = ('iid', 'concept_shift')


def calibrate(pipeline, # the champion: `.predict(X)` on the 8 features
              X_train, y_train, oof_prediction, # its training split and out-of-fold predictions on it
              X_test, y_test, # the held-out split the windows are drawn from
              test_rmse: float, ranges: dict, # its test RMSE; the training ranges
              seeds=range(20), rows: int = 1000) -> pd.DataFrame:
    "One row per scenario and seed: performance status, realised and estimated RMSE, feature drift status"
    from housing.data import FEATURES, TARGET
    from housing.drift_report import compare
    from housing.performance import LossEstimator, check_performance
    from housing.simulate import draw_rows
    X_train = X_train[FEATURES].reset_index(drop=True)
    estimator = LossEstimator().fit(X_train.to_numpy(), oof_prediction, np.asarray(y_train))
    test_pred = pipeline.predict(X_test[FEATURES].to_numpy())
    pool = X_test[FEATURES].reset_index(drop=True).assign(**{TARGET: np.asarray(y_test, np.float64)})
    out = []
    for scenario in SCENARIOS:
        for seed in seeds:
            window = draw_rows(pool, rows, scenario, seed, ranges)
            X = window[FEATURES].to_numpy(np.float64)
            pred = pipeline.predict(X)
            perf = check_performance(window[TARGET].to_numpy(), pred, test_rmse, seed=seed)
            drift = compare(X_train, window[FEATURES], test_pred, pred, ranges, multivariate=False)
            out.append(dict(scenario=scenario, seed=seed, performance=perf.status, realised=perf.rmse, low=perf.interval[0],
                            limit=perf.limit, estimated=estimator.estimated_rmse(X, pred), drift=drift.status,
                            features_alert=', '.join(drift.alerted('ALERT'))))
    df = pd.DataFrame(out)
    df['ratio'] = df['estimated'] / df['realised']
    return df


def table(df: pd.DataFrame) -> pd.DataFrame:
    "The calibration table: per scenario, ALERT count, feature drift statuses, estimated vs realised RMSE"
    rows = []
    for scenario, g in df.groupby('scenario', sort=False):
        rows.append({'scenario': scenario, 'windows': len(g), 'performance ALERT': int((g.performance == 'ALERT').sum()),
                     'feature drift': ', '.join(f'{s} {n}' for s, n in g.drift.value_counts().items()),
                     'realised RMSE': f'{g.realised.mean():.4f} ({g.realised.min():.4f}..{g.realised.max():.4f})',
                     'estimated RMSE': f'{g.estimated.mean():.4f} ({g.estimated.min():.4f}..{g.estimated.max():.4f})',
                     'estimated within 15 %': int((abs(g.ratio - 1) <= 0.15).sum()),
                     'limit': f'{g.limit.iloc[0]:.4f}'})
    return pd.DataFrame(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--rows', type=int, default=1000, help='rows per window (default: 1000)')
    p.add_argument('--seeds', type=int, default=20, help='windows per scenario (default: 20)')
    a = p.parse_args(argv)
    from housing.data import feature_ranges, load_housing
    from housing.train import fit_evaluate
    t0 = time.perf_counter()
    df = load_housing()
    champion = fit_evaluate('hist_gradient_boosting', {'max_iter': 60}, seed=42, cv_folds=5, data=df)
    y_train = df.loc[champion.X_train.index, 'MedHouseVal']
    result = calibrate(champion.pipeline, champion.X_train, y_train, champion.oof.prediction, champion.X_test, champion.y_test,
                       champion.metrics['test_rmse'], feature_ranges(champion.X_train), range(a.seeds), a.rows)
    print(f"champion: hist_gradient_boosting, test RMSE {champion.metrics['test_rmse']:.4f}; windows of {a.rows:,} rows, {a.seeds} seeds")
    with pd.option_context('display.width', 200, 'display.max_columns', 20):
        print(table(result).to_string(index=False))
    print(f'({time.perf_counter() - t0:.0f} s)')


if __name__ == '__main__':
    main()
