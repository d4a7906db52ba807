"""Calibration of the drift statuses on simulated traffic, calling the pure statistics in-process on in-memory samples
(no papermill), 20 seeds each.

Done means (issues 4 and 16): on `iid` traffic at most 1 of 20 windows ALERTs at any size from 50 to 100,000 rows;
`income_shift` and `coastal_shift` ALERT in 20 of 20 at 1,000 rows and more; `joint_shift` (every marginal kept,
incomes handed to other blocks) at 3,000 rows makes both multivariate checks (the domain classifier and the PCA
reconstruction error) ALERT in 20 of 20 while every feature's status stays OK, and the PCA check, which judges from
50 rows, catches it at 200 rows where the classifier cannot yet; `bad_quality` reports its out-of-range share. The full grid is marked `slow` (a few minutes on two
cores); `bench/bench_drift.py` (`make bench-drift`) prints the whole table, with the smallest size caught.
"""
import numpy as np
import pytest

from housing.data import FEATURES
from housing.drift_report import compare
from housing.multivariate import pca_check
from housing.simulate import INVALID_SHARE, OUT_OF_RANGE_SHARE, draw_rows

SEEDS = range(20)


def _report(reference, n, scenario, seed, multivariate=False):
    rows = draw_rows(reference.X_test, n, scenario, seed, reference.ranges)
    valid = rows[rows['valid']]
    preds = reference.model.pipeline.predict(valid[FEATURES].to_numpy(np.float64))
    return compare(reference.X_train, valid, reference.test_predictions, preds, reference.ranges, multivariate=multivariate), rows


def _count(statuses) -> str: return ', '.join(f'{s} {statuses.count(s)}' for s in ('OK', 'TOO_FEW', 'WARN', 'ALERT'))


@pytest.mark.parametrize('n', [100, 1_000])
def test_iid_traffic_alerts_in_at_most_1_of_20_windows(reference, n):
    statuses = [_report(reference, n, 'iid', seed)[0].status for seed in SEEDS]
    print(f'\ncalibration iid n={n} (univariate): {_count(statuses)}')
    assert statuses.count('ALERT') <= 1, statuses


@pytest.mark.slow
@pytest.mark.parametrize('n', [50, 100, 300, 1_000, 10_000, 100_000])
def test_iid_traffic_alerts_in_at_most_1_of_20_windows_with_every_check(reference, n):
    reports = [_report(reference, n, 'iid', seed, multivariate=True)[0] for seed in SEEDS]
    statuses = [r.status for r in reports]
    print(f"\ncalibration iid n={n}: {_count(statuses)}; multivariate {_count([(r.multivariate or {}).get('status') for r in reports])}")
    assert statuses.count('ALERT') <= 1, statuses
    if n < 200: assert {r.multivariate['classifier']['status'] for r in reports} == {'TOO_FEW'}


def test_fewer_rows_than_the_minimum_are_too_few_to_judge(reference):
    report, _ = _report(reference, 30, 'income_shift', 0, multivariate=True)
    assert set(report.features['status']) == {'TOO_FEW'} and report.multivariate['status'] == 'TOO_FEW'
    assert report.multivariate['pca']['reason'] == 'too few rows to judge (n = 30 < 50)'
    assert report.features.loc['MedInc', 'reason'] == 'too few rows to judge (n = 30 < 50)'
    assert report.status == 'TOO_FEW'


@pytest.mark.parametrize('scenario, shifted', [('income_shift', {'MedInc'}), ('coastal_shift', {'Latitude', 'Longitude'})])
@pytest.mark.parametrize('n', [1_000, pytest.param(10_000, marks=pytest.mark.slow), pytest.param(100_000, marks=pytest.mark.slow)])
def test_shift_scenarios_alert_on_the_shifted_features_in_20_of_20_windows(reference, scenario, shifted, n):
    hits, others = 0, {}
    for seed in SEEDS:
        report, _ = _report(reference, n, scenario, seed)
        hits += shifted <= set(report.alerted('ALERT'))
        for f in set(report.alerted('ALERT')) - shifted: others[f] = others.get(f, 0) + 1
    print(f'\ncalibration {scenario} n={n}: ALERT on {sorted(shifted)} in {hits}/20; other features at ALERT: {others or "none"}')
    assert hits == 20


@pytest.mark.slow
def test_joint_shift_is_caught_by_the_multivariate_check_alone(reference):
    "Marginals kept, relation changed: every feature OK, both multivariate checks ALERT and the classifier leans on MedInc"
    reports = [_report(reference, 3_000, 'joint_shift', seed, multivariate=True)[0] for seed in SEEDS]
    mv = [r.multivariate for r in reports]
    print(f"\ncalibration joint_shift n=3000: multivariate {_count([m['status'] for m in mv])}, AUC "
          f"{min(m['classifier']['auc'] for m in mv):.3f}..{max(m['classifier']['auc'] for m in mv):.3f}, PCA error ratio "
          f"{min(m['pca']['error_ratio'] for m in mv):.2f}..{max(m['pca']['error_ratio'] for m in mv):.2f}; features all OK in "
          f"{sum(set(r.features['status']) == {'OK'} for r in reports)}/20; predictions {_count([r.prediction['status'] for r in reports])}")
    assert [(m['classifier']['status'], m['pca']['status']) for m in mv] == [('ALERT', 'ALERT')] * 20
    assert all(set(r.features['status']) == {'OK'} for r in reports)
    # incomes moved across blocks: the classifier leans on income together with what it used to go with (rooms)
    assert all('MedInc' in list(m['classifier']['leans_on'])[:2] for m in mv), [m['classifier']['leans_on'] for m in mv]


@pytest.mark.parametrize('n', [50, 200, 100_000])
def test_the_pca_check_raises_no_false_alarm_on_iid_traffic(reference, n):
    "The PCA check alone (milliseconds a window): at most 1 of 20 iid windows ALERT, from 50 rows to 100,000"
    checks = [pca_check(reference.X_train[FEATURES], draw_rows(reference.X_test, n, 'iid', seed)[FEATURES]) for seed in SEEDS]
    print(f"\ncalibration PCA iid n={n}: {_count([c['status'] for c in checks])}; error ratio "
          f"{min(c['error_ratio'] for c in checks):.2f}..{max(c['error_ratio'] for c in checks):.2f}, band {checks[0]['band']:.2f}")
    assert [c['status'] for c in checks].count('ALERT') <= 1


def test_the_pca_check_catches_joint_shift_where_the_classifier_has_too_few_rows(reference):
    "joint_shift at 200 rows: the PCA check ALERTs in 20 of 20; the error grew in MedInc and what it went with (rooms)"
    checks = [pca_check(reference.X_train[FEATURES], draw_rows(reference.X_test, 200, 'joint_shift', seed)[FEATURES]) for seed in SEEDS]
    print(f"\ncalibration PCA joint_shift n=200: {_count([c['status'] for c in checks])}; error ratio "
          f"{min(c['error_ratio'] for c in checks):.2f}..{max(c['error_ratio'] for c in checks):.2f}, band {checks[0]['band']:.2f}")
    assert [c['status'] for c in checks] == ['ALERT'] * 20
    assert all({'MedInc', 'AveRooms'} <= set(list(c['leans_on'])[:2]) for c in checks), [c['leans_on'] for c in checks]


def test_bad_quality_reports_the_out_of_range_share(reference):
    shares = []
    for seed in SEEDS:
        report, rows = _report(reference, 2_000, 'bad_quality', seed)
        q = report.quality
        shares.append(q['out_of_range_share'])
        assert q['status'] == 'ALERT' and q['reason'].startswith('out_of_range_share')
        assert (~rows['valid']).sum() == round(INVALID_SHARE * 2_000)  # the rows the API would reject
    print(f'\ncalibration bad_quality n=2000: out-of-range share reported {min(shares):.2%}..{max(shares):.2%} '
          f'(injected {OUT_OF_RANGE_SHARE:.0%})')
