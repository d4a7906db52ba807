"""Calibration of the drift report on simulated traffic, calling the library directly (no papermill) on in-memory samples.

Done means (issue 4): on `iid` traffic no ALERT in at least 19 of 20 seeds; on `income_shift` and `coastal_shift`
ALERT on the shifted features in 20 of 20; on `bad_quality` the out-of-range share is reported.
"""
import numpy as np
import pytest

from housing.data import FEATURES
from housing.monitor import compare
from housing.simulate import INVALID_SHARE, OUT_OF_RANGE_SHARE, draw_rows

SEEDS = range(20)


def _report(reference, n, scenario, seed):
    rows = draw_rows(reference.X_test, n, scenario, seed, reference.ranges)
    valid = rows[rows['valid']]
    preds = reference.model.pipeline.predict(valid[FEATURES].to_numpy(np.float64))
    return compare(reference.X_train, valid, reference.test_predictions, preds, reference.ranges), rows


@pytest.mark.parametrize('n', [1_000, 10_000])
def test_iid_traffic_raises_no_alert_in_at_least_19_of_20_seeds(reference, n):
    statuses = [_report(reference, n, 'iid', seed)[0].status for seed in SEEDS]
    print(f'\ncalibration iid n={n}: ' + ', '.join(f'{s} {statuses.count(s)}' for s in ('OK', 'WARN', 'ALERT')))
    assert statuses.count('ALERT') <= 1, statuses


@pytest.mark.parametrize('scenario, shifted', [('income_shift', {'MedInc'}), ('coastal_shift', {'Latitude', 'Longitude'})])
def test_shift_scenarios_alert_on_the_shifted_features_in_20_of_20_seeds(reference, scenario, shifted):
    hits, others = 0, {}
    for seed in SEEDS:
        report, _ = _report(reference, 2_000, scenario, seed)
        hits += shifted <= set(report.alerted('ALERT'))
        for f in set(report.alerted('ALERT')) - shifted: others[f] = others.get(f, 0) + 1
    print(f'\ncalibration {scenario} n=2000: ALERT on {sorted(shifted)} in {hits}/20 seeds; other features at ALERT: {others or "none"}')
    assert hits == 20


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
    assert all(abs(s - OUT_OF_RANGE_SHARE) < 0.01 for s in shares), shares
