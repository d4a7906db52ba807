#!/usr/bin/env python
"""Would a PCA reconstruction-error check add detection that the domain classifier lacks? (issue 16 item 2)

The candidate check: log the heavy-tailed features, standardise on the reference (the training split), keep the
principal components holding 90 % of the variance (fitted on half the reference), and compare the current window's
mean reconstruction error with its no-drift band (the 99.9 % quantile of the mean error of `n` rows resampled
from the other half of the reference). Prints, per scenario and window size over `--seeds` seeds, how often it
fires beside how often the domain classifier (`housing.multivariate.domain_classifier`) ALERTs.

    .venv/bin/python bench/bench_pca_check.py                       # 20 seeds; iid, joint_shift, income_shift
    .venv/bin/python bench/bench_pca_check.py --seeds 10 --sizes 100,300,3000
"""
from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOGGED = ('MedInc', 'AveRooms', 'AveBedrms', 'Population', 'AveOccup')


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--sizes', default='50,100,200,300,1000,3000')
    p.add_argument('--scenarios', default='iid,joint_shift,income_shift')
    a = p.parse_args(argv)
    shared = ROOT.parent/'shared'/'data'/'cal_housing.data'
    if 'HOUSING_RAW_DATA' not in os.environ and shared.exists(): os.environ['HOUSING_RAW_DATA'] = str(shared)
    warnings.filterwarnings('ignore')
    from sklearn.decomposition import PCA
    from housing.data import FEATURES, load_housing, split_train_test
    from housing.multivariate import MIN_ROWS, band_cache, domain_classifier
    from housing.simulate import draw_rows
    X_train, X_test, _, _ = split_train_test(load_housing())
    X_train, X_test = X_train[FEATURES].reset_index(drop=True), X_test[FEATURES].reset_index(drop=True)
    logged = [FEATURES.index(f) for f in LOGGED]

    def prep(X):
        A = X[FEATURES].to_numpy(np.float64).copy()
        A[:, logged] = np.log1p(np.clip(A[:, logged], 0, None))
        return A
    R = prep(X_train); mu, sd = R.mean(0), R.std(0)
    half = len(R) // 2
    pca = PCA(0.9, random_state=0).fit((R[:half] - mu) / sd)
    def error(A):
        Z = (A - mu) / sd
        return ((Z - pca.inverse_transform(pca.transform(Z)))**2).sum(1)
    null = error(R[half:]); rng = np.random.default_rng(0)
    band = {n: np.quantile([null[rng.integers(0, len(null), n)].mean() for _ in range(2000)], 0.999) for n in map(int, a.sizes.split(','))}
    print(f'PCA keeps {pca.n_components_} of {len(FEATURES)} components (90 % of the variance); mean reconstruction error '
          f'of reference rows {null.mean():.3f}\n')
    print('| scenario | rows | PCA fires | PCA error / reference | PCA band / reference | domain classifier ALERT | domain AUC |')
    print('|---|---:|---:|---:|---:|---:|---:|')
    cache = Path(tempfile.mkdtemp(prefix='bench-pca-'))/'domain-bands.json'
    for scenario in a.scenarios.split(','):
        for n, b in band.items():
            fires, ratio, alerts, aucs = 0, [], 0, []
            for seed in range(a.seeds):
                cur = draw_rows(X_test, n, scenario, seed=seed)
                m = error(prep(cur)).mean(); fires += m > b; ratio.append(m / null.mean())
                if n >= MIN_ROWS:
                    with band_cache(cache): d = domain_classifier(X_train, cur[FEATURES])
                    alerts += d['status'] == 'ALERT'; aucs.append(d['auc'])
            dc = (f'{alerts}/{a.seeds}', f'{np.mean(aucs):.3f}') if aucs else ('too few rows', '—')
            print(f'| {scenario} | {n:,} | {fires}/{a.seeds} | {np.mean(ratio):.2f} | {b / null.mean():.2f} | {dc[0]} | {dc[1]} |', flush=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
