"""Code tests of the drift statistics: they agree with scipy and with hand computations, large samples do not drift on
negligible shifts, small samples do not alert on noise, and the no-drift band holds what chance produces."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp, wasserstein_distance

from housing.data import FEATURES
from housing.drift import Thresholds, distribution_drift, noise_band, psi, psi_edges, size_bucket, thresholds_table, wasserstein_norm
from housing.drift_report import compare, data_quality


def test_psi_matches_a_hand_computation_on_fixed_bins():
    ref = np.repeat([1.0, 2.0, 3.0, 4.0], 25)  # quartile edges 1.75, 2.5, 3.25 -> 4 bins of 25 %
    cur = np.repeat([1.0, 2.0, 3.0, 4.0], [10, 20, 30, 40])
    expected = sum((c - 0.25) * np.log(c / 0.25) for c in (0.1, 0.2, 0.3, 0.4))
    assert psi(ref, cur, bins=4) == pytest.approx(expected)


def test_psi_bins_are_cut_at_reference_quantiles_and_outer_bins_are_open():
    ref = np.arange(1000.0)
    np.testing.assert_allclose(psi_edges(ref, 10), np.quantile(ref, np.linspace(0.1, 0.9, 9)))
    # values far beyond the reference land in the last bin instead of being dropped
    assert psi(ref, np.full(100, 1e9)) == pytest.approx(psi(ref, np.full(100, 999.0)))


def test_statistics_are_scipys():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3000), rng.normal(0.3, 1.2, size=800)
    d = distribution_drift(a, b)
    assert d['ks_statistic'] == pytest.approx(ks_2samp(a, b).statistic)
    assert d['ks_pvalue'] == pytest.approx(ks_2samp(a, b, method='asymp').pvalue)
    assert wasserstein_norm(a, b) == pytest.approx(wasserstein_distance(a, b) / np.std(a))


def test_large_samples_do_not_make_a_negligible_shift_drift():
    "At n = 200,000 a 0.02 sd shift is 'significant' for KS, but its effect size is negligible: status OK"
    rng = np.random.default_rng(2)
    ref, cur = rng.normal(size=200_000), rng.normal(0.02, 1, size=200_000)
    d = distribution_drift(ref, cur)
    assert d['ks_pvalue'] < 1e-6
    assert d['status'] == 'OK', d


def test_small_samples_do_not_alert_on_noise():
    "15 rows: an effect size above the ALERT line is ordinary chance there, so it stays OK (below min_rows: TOO_FEW)"
    rng = np.random.default_rng(3)
    ref = rng.normal(size=20_000)
    statuses = [distribution_drift(ref, rng.normal(size=15), Thresholds(min_rows=10))['status'] for _ in range(50)]
    assert statuses.count('ALERT') == 0, statuses
    d = distribution_drift(ref, rng.normal(size=15))
    assert d['status'] == 'TOO_FEW' and d['reason'] == 'too few rows to judge (n = 15 < 50)'


def test_no_drift_band_holds_what_chance_produces_at_each_window_size():
    "The band is the 99.9 % quantile of the statistic between two samples of one population: real draws stay inside"
    rng = np.random.default_rng(7)
    pool = rng.lognormal(size=400_000)
    ref = pool[:16_512]
    for n in (64, 512, 4096):
        band = noise_band(ref, n)
        assert band['rows'] == size_bucket(n) == n
        outside = sum(psi(ref, rng.choice(pool, n)) > band['psi'] or wasserstein_norm(ref, rng.choice(pool, n)) > band['wasserstein_norm']
                      for _ in range(200))
        assert outside <= 3, (n, outside)
        assert noise_band(ref, n) == band  # deterministic


def test_status_names_the_statistic_that_set_it():
    rng = np.random.default_rng(8)
    ref = rng.normal(size=20_000)
    d = distribution_drift(ref, rng.normal(0.15, 1, size=5_000))
    assert (d['status'], d['decided_by'], d['psi_status'], d['wasserstein_norm_status']) == ('WARN', 'wasserstein_norm', 'OK', 'WARN')
    assert d['psi'] < Thresholds().psi[0] and d['wasserstein_norm'] >= Thresholds().wasserstein_norm[0]


def test_a_real_shift_alerts_whatever_the_sample_size():
    rng = np.random.default_rng(4)
    ref = rng.normal(size=20_000)
    for n in (100, 1_000, 100_000):
        assert distribution_drift(ref, rng.normal(0.8, 1, size=n))['status'] == 'ALERT', n


def test_data_quality_counts_each_kind_of_bad_row():
    rows = pd.DataFrame([dict(MedInc=3., HouseAge=20., AveRooms=5., AveBedrms=1., Population=1000., AveOccup=3.,
                              Latitude=37., Longitude=-122.)] * 200)
    ranges = {f: [rows[f].min() - 1, rows[f].max() + 1] for f in FEATURES}
    rows.loc[:19, 'HouseAge'] = 80.0           # 10 % outside the training range, but possible
    rows.loc[20, 'MedInc'] = np.inf            # non-finite
    rows.loc[21, 'AveBedrms'] = 9.0            # more bedrooms than rooms: breaks a business rule
    q = data_quality(rows, ranges)
    assert q['out_of_range_share'] == pytest.approx(0.105)  # row 21 is also beyond AveBedrms' range
    assert q['out_of_range_by_feature']['HouseAge'] == pytest.approx(0.10)
    assert q['missing_share'] == pytest.approx(0.005) and q['invalid_share'] == pytest.approx(0.005)
    assert q['status'] == 'ALERT'


def test_thresholds_live_in_one_documented_table_and_can_be_overridden():
    table = thresholds_table()
    assert {'psi', 'wasserstein_norm', 'noise_quantile', 'min_rows', 'domain_auc', 'out_of_range_share', 'error_rate', 'latency_p99_ms'} <= set(table.index)
    assert table['meaning'].str.len().min() > 5
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({f: rng.normal(size=5000) for f in FEATURES})
    cur = pd.DataFrame({f: rng.normal(size=5000) for f in FEATURES}).assign(MedInc=lambda d: d.MedInc + 0.15)
    assert compare(ref, cur, multivariate=False).features.loc['MedInc', 'status'] == 'WARN'
    strict = compare(ref, cur, thresholds={'wasserstein_norm': [0.05, 0.1], 'psi': [0.01, 0.02]}, multivariate=False)
    assert strict.features.loc['MedInc', 'status'] == 'ALERT'
    with pytest.raises(ValueError, match='valid names'): Thresholds.from_dict({'pis': [1, 2]})


def test_report_summary_is_plain_json():
    import json
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({f: rng.normal(size=2000) for f in FEATURES})
    r = compare(ref, ref.iloc[:500].assign(MedInc=lambda d: d.MedInc + 1), rng.normal(size=2000), rng.normal(size=500))
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d['status'] == 'ALERT' and d['findings'][0] == dict(level='ALERT', kind='feature', name='MedInc', message=d['findings'][0]['message'])
    assert {f['feature'] for f in d['features']} == set(FEATURES)
