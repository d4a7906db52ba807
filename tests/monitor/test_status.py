"""`housing status`: the terminal summary from the registry, the log and the last report, in 80 columns."""
from housing.monitor import compare, write_summary
from housing.simulate import draw_rows
from housing.status import status_text


def test_status_summarises_champion_traffic_and_drift(trained_store, simulated_log, reference, tmp_path):
    rows = draw_rows(reference.X_test, 500, 'coastal_shift', seed=1)
    write_summary(compare(reference.X_train, rows, ranges=reference.ranges), tmp_path/'20990101T000000Z.json')
    text = status_text(prediction_log=simulated_log, drift_dir=tmp_path)
    print('\n' + text)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert f"california-housing v{trained_store['version']} (hist_gradient_boosting)" in text
    assert 'test RMSE 0.' in text
    assert 'all 30 (3,000 rows)' in text and 'last 24 h 0.00% (0 of 30; 0 server errors)' in text
    assert 'none measured: the last 24 h hold only simulated requests' in text  # --direct writes no real latency
    assert 'Drift     ALERT' in text and 'Latitude' in text and '20990101T000000Z.json' in text


def test_status_is_readable_at_other_widths_and_when_nothing_exists(tmp_path):
    text = status_text(width=50, tracking_uri=f"sqlite:///{tmp_path/'mlflow.db'}", prediction_log=tmp_path/'none.db', drift_dir=tmp_path)
    assert all(len(line) <= 50 for line in text.splitlines())
    assert '`housing pipeline`' in text and '`housing simulate --direct`' in text and '`housing monitor`' in text
