"""The drift report end to end: `run_monitor` executes nbs/pipelines/drift_report.ipynb through papermill (once),
writes a self-contained HTML and a JSON summary, logs its findings and sets the exit code; plus the CSV source
and the error paths, which do not need a kernel."""
import json
import re

import pytest

from housing.data import FEATURES
from housing.monitor import MonitorError, compare, read_current, run_monitor
from housing.simulate import draw_rows


@pytest.fixture(scope='module')
def rendered(simulated_log, tmp_path_factory):
    out = tmp_path_factory.mktemp('drift')
    printed = []
    code = run_monitor(prediction_log=simulated_log, output_dir=out, log_path=out/'model_monitor.log', fail_on_alert=True,
                       echo=printed.append)
    return code, out, printed


def test_income_shift_report_alerts_and_fails_on_alert(rendered):
    code, out, printed = rendered
    assert code == 1, printed
    summary = json.loads(next(out.glob('*.json')).read_text())
    assert summary['status'] == 'ALERT'
    status = {f['feature']: f['status'] for f in summary['features']}
    assert status['MedInc'] == 'ALERT' and status['Latitude'] == 'OK', status
    assert summary['current']['rows'] == 3000 and summary['reference']['rows'] == 16512
    assert summary['prediction']['status'] in ('WARN', 'ALERT')  # richer requests, higher predicted prices
    assert 'ALERT: ' in printed[0] and 'MedInc' in printed[0]


def test_the_report_kernel_renders_with_the_registry_out_of_reach(rendered, simulated_log, reference, tmp_path, monkeypatch):
    "Given the card `run_monitor` passes, the kernel never looks the model up: MLflow's store may be unreachable"
    from dataclasses import asdict

    from housing.monitor import describe_model, report_notebook
    from housing.runner import execute
    card = describe_model(reference.info['model_uri'])
    _, out, _ = rendered
    monkeypatch.setenv('MLFLOW_TRACKING_URI', f"sqlite:///{tmp_path/'absent'/'mlflow.db'}")  # the kernel inherits it
    res = execute(report_notebook(), tmp_path/'report.ipynb', dict(reference_card=asdict(card), prediction_log=str(simulated_log),
                  cache_dir=str(out/'.cache'), summary_path=str(tmp_path/'summary.json')), name='drift_report', render=False)
    assert res.ok, res.error
    assert json.loads((tmp_path/'summary.json').read_text())['status'] == 'ALERT'


def test_html_is_self_contained_and_shows_every_section(rendered):
    _, out, _ = rendered
    html_path = next(out.glob('*.html'))
    html = html_path.read_text()
    assert html_path.stat().st_size < 5e6
    assert not re.search(r'''(src|href)\s*=\s*["']?(https?:)?//''', html), 'the report references a remote resource'
    text = re.sub(r'''data:[^"')\s]+''', '', html).lower()  # without the embedded images
    assert 'cdnjs' not in text and 'require.js' not in text and not re.search(r'<script[^>]+src=', text)
    assert len(re.findall(r'<img[^>]+src="data:image/png;base64,', html)) >= 4  # distributions, PSI, map, predictions
    for heading in ('Findings', 'Summary table', 'Distributions', 'Drift statistics against their bands', 'Features together',
                    'Request locations', 'Prediction drift', 'Data quality and traffic', 'Performance', 'Thresholds'):
        assert f'>{heading}<' in html, heading
    assert 'Overall status: ALERT' in html
    assert 'Performance: no labels yet' in html and 'Estimated RMSE (direct loss estimation' in html  # a simulated log has no labels
    assert 'What to do:' in html and 'Check the upstream data for MedInc' in html and 'wait for labels' in html
    assert 'no-drift band' in html and 'Features together: ' in html
    assert '30.0000' not in html and '3000.0000' not in html and re.search(r'<td>3,000</td>', html)  # counts print as integers
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html, 'warnings or errors leaked into the report'


def test_each_finding_is_one_line_of_the_monitor_log(rendered):
    _, out, _ = rendered
    summary = json.loads(next(out.glob('*.json')).read_text())
    lines = (out/'model_monitor.log').read_text().splitlines()
    assert len(lines) == len(summary['findings']) >= 1
    assert any(re.search(r' ALERT feature=MedInc psi \d\.\d+ >= 0\.25 \(no-drift band 0\.\d+\); wasserstein_norm \d\.\d+ >= 0\.2 \(no-drift band 0\.\d+\) report=', l) for l in lines), lines


def test_csv_source_is_predicted_by_the_champion(tmp_path, reference):
    rows = draw_rows(reference.X_test, 800, 'coastal_shift', seed=5)
    rows[FEATURES].to_csv(tmp_path/'rows.csv', index=False)
    cur = read_current(str(tmp_path/'rows.csv'), model=reference.model)
    assert cur.info['kind'] == 'csv' and len(cur.predictions) == 800
    r = compare(reference.X_train, cur.X, reference.test_predictions, cur.predictions, reference.ranges)
    assert {'Latitude', 'Longitude'} <= set(r.alerted()) and r.prediction['status'] == 'ALERT'


@pytest.mark.parametrize('kwargs, message', [
    (dict(window='soon'), 'duration'),
    (dict(since='2000-01-01', window='1h'), 'either since or window'),
    (dict(current='/nonexistent/rows.csv'), 'file not found'),
    (dict(since='2h', until='3h'), 'empty window'),
])
def test_bad_arguments_exit_2_without_starting_a_kernel(simulated_log, tmp_path, kwargs, message):
    printed = []
    assert run_monitor(prediction_log=simulated_log, output_dir=tmp_path, echo=printed.append, **kwargs) == 2
    assert message in printed[0] and not list(tmp_path.iterdir())


def test_empty_window_and_missing_log_exit_2_with_the_fix(simulated_log, tmp_path):
    printed = []
    assert run_monitor(prediction_log=simulated_log, since='2999-01-01T00:00', output_dir=tmp_path, echo=printed.append) == 2
    assert 'no predictions between' in printed[-1] and 'housing simulate' in printed[-1]
    assert run_monitor(prediction_log=tmp_path/'none.db', output_dir=tmp_path, echo=printed.append) == 2
    assert 'does not exist' in printed[-1] and 'housing serve' in printed[-1]
    with pytest.raises(MonitorError, match='no predictions'):
        read_current(prediction_log=simulated_log, since=4e9)
