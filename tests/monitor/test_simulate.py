"""The traffic simulator: straight into the log (--direct) and through the real API on a loopback port."""
import time

import numpy as np
import pytest

from housing.data import FEATURES
from housing.monitor import MonitorError, read_log
from housing.simulate import INCOME_FACTOR, simulate


def test_direct_mode_writes_what_the_api_would_log(simulated_log, reference):
    preds, reqs = read_log(simulated_log)
    assert len(preds) == 3000 and len(reqs) == 30 and (reqs['status'] == 200).all() and reqs['rows'].sum() == 3000
    assert set(preds['request_id']) == set(reqs['request_id'])
    assert (preds['model_version'] == reference.info['model_version']).all()
    # predictions are the champion's on the logged rows, and the shift is there
    np.testing.assert_allclose(preds['prediction'], reference.model.pipeline.predict(preds[FEATURES].to_numpy()), rtol=1e-9)
    assert preds['MedInc'].mean() == pytest.approx(INCOME_FACTOR * reference.X_test['MedInc'].mean(), rel=0.05)
    # the out-of-distribution flag agrees with the training ranges
    lo = np.array([reference.ranges[f][0] for f in FEATURES]); hi = np.array([reference.ranges[f][1] for f in FEATURES])
    X = preds[FEATURES].to_numpy()
    np.testing.assert_array_equal(preds['ood'].to_numpy().astype(bool), ((X < lo) | (X > hi)).any(axis=1))
    # timestamps spread over the last hour
    assert 3000 < reqs['ts'].max() - reqs['ts'].min() <= 3600


def test_direct_bad_quality_logs_rejected_requests(tmp_path, reference):
    path = tmp_path/'p.db'
    out = simulate(500, 'bad_quality', direct=True, seed=1, prediction_log=path, reference=reference, quiet=True)
    preds, reqs = read_log(path)
    assert (out['accepted'], out['rejected']) == (500, 10)
    assert len(preds) == 500 and (reqs['status'] == 422).sum() == 10
    assert preds['ood'].mean() == pytest.approx(0.10, abs=0.01)


def test_api_mode_sends_batches_and_single_rejections(api_server, reference):
    url, log = api_server
    before = time.time()  # the API's log is shared with other tests: look at what this test sent
    out = simulate(300, 'bad_quality', api=url, seed=2, batch_size=50, reference=reference, quiet=True)
    assert out['statuses'] == {200: 6, 422: 6}, out
    assert (out['accepted'], out['rejected']) == (300, 6)
    preds, reqs = read_log(log, since=before)
    assert len(preds) == 300 and preds['ood'].sum() == pytest.approx(30, abs=2)
    assert (reqs['status'] == 422).sum() == 6


def test_api_down_says_how_to_fix_it(reference):
    with pytest.raises(MonitorError, match='not reachable.*housing serve'):
        simulate(10, 'iid', api='http://127.0.0.1:9', reference=reference, quiet=True)


def test_unknown_scenario_lists_the_valid_ones(reference):
    with pytest.raises(ValueError, match='choose one of: iid, income_shift, coastal_shift, joint_shift, bad_quality'):
        simulate(10, 'earthquake', direct=True, reference=reference, quiet=True)
