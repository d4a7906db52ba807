"""The drift report's Performance section, end to end: `housing monitor` (papermill) on a log whose labels show a concept shift."""
import json


def test_a_concept_shift_alerts_in_the_report_while_features_stay_ok(tmp_path, trained_store, traffic):
    "Prices x1.3 at unchanged features: the report ALERTs on performance alone, says so in its Performance section and its log"
    from housing.monitor import run_monitor
    log = tmp_path/'predictions.db'
    traffic(log, trained_store, n=2000, labelled=1000, factor=1.3)
    out, printed = tmp_path/'drift', []
    code = run_monitor(prediction_log=log, output_dir=out, log_path=out/'model_monitor.log', fail_on_alert=True, echo=printed.append)
    assert code == 1, printed
    summary = json.loads(next(out.glob('*.json')).read_text())
    perf = summary['performance']
    assert summary['status'] == 'ALERT' and perf['status'] == 'ALERT', perf
    assert all(f['status'] in ('OK', 'TOO_FEW') for f in summary['features']), [(f['feature'], f['status']) for f in summary['features']]
    assert [f['kind'] for f in summary['findings'] if f['level'] == 'ALERT'] == ['performance']
    assert perf['realised']['n'] == 1000 and perf['realised']['interval'][0] > perf['realised']['limit']
    assert perf['estimated_rmse'] is not None and perf['estimate_gap'] < 0  # features alone cannot see a price change
    html = next(out.glob('*.html')).read_text()
    assert '>Performance<' in html and 'Performance: ALERT' in html and 'Estimated RMSE (direct loss estimation' in html
    assert 'housing retrain' in html  # what to do
    assert 'ALERT performance' in (out/'model_monitor.log').read_text()
    print(f"\nreport: realised {perf['realised']['rmse']:.4f} vs limit {perf['realised']['limit']:.4f}, estimated {perf['estimated_rmse']:.4f}")
