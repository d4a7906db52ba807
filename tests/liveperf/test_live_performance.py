"""Realised and estimated RMSE of a real champion (a real MLflow store, a real prediction log with labels)."""
import numpy as np
import pytest

from liveperf_support import rmse


def test_labelled_rows_join_their_predictions_by_request_and_position(tmp_path, trained_store, traffic):
    "Each label meets the prediction at its row of its request: the realised errors are the true ones, row for row"
    from housing.logquery import read_labelled
    truth = traffic(tmp_path/'log.db', trained_store, n=40, labelled=30, batch=7)
    lab = read_labelled(tmp_path/'log.db')
    assert len(lab) == 30 and lab['row'].max() == 6
    np.testing.assert_allclose(lab['actual'], truth['actual']); np.testing.assert_allclose(lab['prediction'], truth['prediction'])


def test_a_log_without_labels_reads_as_no_labels(tmp_path, trained_store):
    from housing.liveperf import champion_reference, live_performance
    from housing.predlog import PredictionLog
    with PredictionLog(tmp_path/'log.db') as log: log.write([{'MedInc': 3.0, 'prediction': 2.0, 'model_version': trained_store['version']}])
    lp = live_performance(tmp_path/'log.db', champion_reference(trained_store['tracking_uri']))
    assert lp.status == 'NO_LABELS' and lp.realised is None


@pytest.fixture(scope='module')
def estimator(trained_store, tmp_path_factory):
    from housing.liveperf import champion_reference, estimator_for
    champ = champion_reference(trained_store['tracking_uri'])
    est, why = estimator_for(champ, trained_store['tracking_uri'], tmp_path_factory.mktemp('cache'))
    assert why is None, why
    return champ, est


def test_estimated_rmse_tracks_the_realised_one_on_iid_traffic(tmp_path, estimator, trained_store, traffic):
    "The champion's own held-out rows: realised RMSE near its test RMSE, OK, and the estimate within 15 % of it"
    from housing.liveperf import live_performance
    champ, est = estimator
    truth = traffic(tmp_path/'log.db', trained_store, n=3000, labelled=3000)
    lp = live_performance(tmp_path/'log.db', champ, estimator=est)
    assert lp.status == 'OK', lp.realised.sentence()
    assert lp.realised.rmse == pytest.approx(rmse(truth['actual'], truth['prediction']))
    print(f"\niid: test RMSE {champ.test_rmse:.4f}, realised {lp.realised.rmse:.4f} (n={lp.realised.n}), "
          f"estimated {lp.estimated_rmse:.4f} on all rows, {lp.estimated_on_labelled:.4f} on the labelled ({lp.estimate_gap:+.1%})")
    assert abs(lp.estimate_gap) < 0.15


def test_a_concept_shift_alerts_while_the_estimate_stays(tmp_path, estimator, trained_store, traffic):
    "Prices x1.3, features unchanged: realised RMSE ALERTs; the estimate (features only) cannot see it"
    from housing.liveperf import live_performance
    champ, est = estimator
    traffic(tmp_path/'log.db', trained_store, n=3000, labelled=1000, factor=1.3)
    lp = live_performance(tmp_path/'log.db', champ, estimator=est)
    print(f"\nconcept shift: realised {lp.realised.rmse:.4f}, estimated {lp.estimated_on_labelled:.4f} ({lp.estimate_gap:+.1%}); {lp.realised.sentence()}")
    assert lp.status == 'ALERT' and lp.estimate_gap < -0.15


def test_only_the_champions_own_predictions_are_judged(tmp_path, estimator, trained_store, traffic):
    from housing.liveperf import Champion, live_performance
    champ, est = estimator
    traffic(tmp_path/'log.db', trained_store, n=200, labelled=200)
    other = Champion(str(int(champ.version) + 1), champ.run_id, champ.test_rmse)
    assert live_performance(tmp_path/'log.db', other).status == 'NO_LABELS'


def test_status_shows_alias_moves_and_live_performance(tmp_path, estimator, trained_store, traffic):
    "housing status names the last alias move and each window's realised RMSE beside the estimate, in 80 columns"
    from housing.promotion import record_move
    from housing.status import status_text
    uri = trained_store['tracking_uri']
    record_move(None, trained_store['version'], 'liveperf status test', tracking_uri=uri)
    traffic(tmp_path/'log.db', trained_store, n=400, labelled=300)
    txt = status_text(tracking_uri=uri, prediction_log=tmp_path/'log.db', drift_dir=tmp_path)
    print('\n' + txt)
    lines = txt.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith('Moves') and f"-> v{trained_store['version']}: liveperf status test" in line for line in lines)
    live = [line for line in lines if line.startswith('Live')]
    assert live and live[0].startswith('Live      1h: OK RMSE') and 'estimated 0.' in txt


def test_the_estimate_holds_on_each_hour_of_iid_traffic(tmp_path, estimator, trained_store, traffic):
    "Five hours of 800 labelled held-out rows each: in every hour the estimate is within 15 % of the realised RMSE"
    from housing.liveperf import live_performance
    champ, est = estimator
    for h in range(5): traffic(tmp_path/'log.db', trained_store, start=800 * h, n=800, labelled=800, ts=10_000.0 + 3600 * h, prefix=f'h{h}-')
    rows = []
    for h in range(5):
        lp = live_performance(tmp_path/'log.db', champ, 10_000.0 + 3600 * h, 10_000.0 + 3600 * (h + 1), estimator=est)
        rows.append((h, lp.realised.n, lp.realised.rmse, lp.estimated_on_labelled, lp.estimate_gap, lp.status))
    print('\nhour  n    realised  estimated  gap     status')
    for r in rows: print(f'{r[0]:<5} {r[1]:<4} {r[2]:.4f}    {r[3]:.4f}     {r[4]:+.1%}  {r[5]}')
    assert all(abs(r[4]) < 0.15 for r in rows) and all(r[5] == 'OK' for r in rows)
