"""The Streamlit dashboard: AppTest for the page and the form, then once in a real headless Chromium."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from housing.monitor import compare, write_summary
from housing.simulate import draw_rows

from .conftest import ROOT, free_port, stop, wait_http

APP = ROOT/'housing'/'dashboard.py'


@pytest.fixture(scope='module')
def dash_env(tmp_path_factory, trained_store, simulated_log, reference):
    "Environment of a deployed dashboard: the fixture champion, a log with traffic, one drift report"
    home = tmp_path_factory.mktemp('home')
    drift = home/'reports'/'drift'
    rows = draw_rows(reference.X_test, 800, 'income_shift', seed=2)
    summary = compare(reference.X_train, rows, ranges=reference.ranges, reference_info=reference.info,
                      current_info=dict(kind='log', source=str(simulated_log)))
    write_summary(summary, drift/'20260101T000000Z.json')
    (drift/'20260101T000000Z.html').write_text('<html><body>drift report</body></html>')
    return dict(HOUSING_HOME=str(home), HOUSING_PREDICTION_LOG=str(simulated_log), HOUSING_EXPERIMENT='test-fixture',
                MLFLOW_TRACKING_URI=trained_store['tracking_uri'], HOUSING_API_URL='http://127.0.0.1:9')


@pytest.fixture
def app(dash_env, monkeypatch):
    from streamlit.testing.v1 import AppTest
    for k, v in dash_env.items(): monkeypatch.setenv(k, v)
    return AppTest.from_file(str(APP), default_timeout=120)


def _metrics(at) -> dict: return {m.label: m.value for m in at.metric}


def test_page_shows_champion_traffic_drift_and_leaderboard(app, trained_store):
    at = app.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ['Champion', 'Monitoring', 'Performance', 'Leaderboard']
    m = _metrics(at)
    assert m['model'] == f"v{trained_store['version']}" and m['test RMSE'].startswith('0.')
    assert m['requests'] == '30' and m['error rate'] == '0.00%' and m['latency p99'] == '—'  # --direct rows carry no measured latency: a dash, 'simulated rows' beneath
    assert {mt.label: mt.delta for mt in at.metric}['latency p99'] == 'simulated rows'
    assert m['labelled rows'] == '0' and m['realised RMSE'] == '—'  # no labels in this log: the estimate stands alone
    assert any('No labels yet' in i.value for i in at.info)
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2 + any('alias' in t for t in tables)  # drift status per feature, leaderboard (and alias moves, if any)
    drift = next(t for t in tables if 'status' in t)
    assert drift.loc['MedInc', 'status'] == 'ALERT' and drift.loc['Latitude', 'status'] == 'OK'
    assert 'hist_gradient_boosting' in tables[-1].to_string()
    assert any('ALERT' in md.value for md in at.markdown)
    assert at.get('download_button'), 'no link to the latest report'
    assert not at.warning and not at.error


def test_traffic_figures_come_from_sql_not_from_the_rows(app, monkeypatch):
    "The page reads aggregates only: reading the log's rows into pandas would fail here, the page still shows its traffic"
    import housing.logquery as hq
    import housing.monitor as hmon
    def refuse(*args, **kwargs): raise AssertionError('the dashboard read the rows of the log')
    import streamlit as st
    for module, name in ((hq, 'read_requests'), (hq, 'read_predictions'), (hmon, 'read_log')): monkeypatch.setattr(module, name, refuse)
    st.cache_data.clear()  # nothing from an earlier run of the page
    at = app.run()
    assert not at.exception, at.exception
    assert _metrics(at)['requests'] == '30'


def test_numbers_are_rounded_consistently_and_p_values_readable(app):
    at = app.run()
    tables = [d.value for d in at.dataframe]
    drift, board = next(t for t in tables if 'status' in t), tables[-1]
    assert 'run' not in board.columns and 'papermill s' not in board.columns  # the table fits the page width
    for column, decimals in {'test RMSE': 4, 'CV RMSE': 4, 'fit s': 1, 'notebook s': 1, 'ms/row': 3}.items():
        if column in board:
            values = board[column].dropna()
            assert (values.round(decimals) == values).all(), (column, values.tolist())
    pvalues = drift['ks_pvalue'].tolist()
    assert all(isinstance(p, str) for p in pvalues) and '0.000' not in pvalues and '0' not in pvalues, pvalues
    assert any('e-' in p or p.startswith('<') for p in pvalues), pvalues  # MedInc's shift has a tiny p-value
    for column in ('psi', 'wasserstein_norm', 'ks_statistic'):
        assert (drift[column].dropna().round(3) == drift[column].dropna()).all(), column


def test_prediction_form_says_when_the_api_is_down(app):
    at = app.run()
    at.sidebar.form_submit_button[0].click().run()
    assert len(at.sidebar.error) == 1
    assert 'not reachable' in at.sidebar.error[0].value and 'housing serve' in at.sidebar.error[0].value


def test_prediction_form_calls_the_api(app, api_server, monkeypatch):
    monkeypatch.setenv('HOUSING_API_URL', api_server[0])
    at = app.run()
    at.sidebar.number_input(key='in_MedInc').set_value(8.0)
    at.sidebar.form_submit_button[0].click().run()
    assert not at.sidebar.error, at.sidebar.error
    assert 'Predicted median house value: **$' in at.sidebar.success[0].value


def test_prediction_form_shows_the_apis_rejection(app, api_server, monkeypatch):
    monkeypatch.setenv('HOUSING_API_URL', api_server[0])
    at = app.run()
    at.sidebar.number_input(key='in_Latitude').set_value(50.0)
    at.sidebar.form_submit_button[0].click().run()
    assert 'rejected the row (422)' in at.sidebar.error[0].value and 'Latitude' in at.sidebar.error[0].value


CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--window-size=1280,2000', '--virtual-time-budget=15000']


EXPECTED = ('California housing: model and monitoring', 'Champion', 'hist_gradient_boosting', 'Monitoring', 'Requests per minute',
            'latency p99', 'MedInc', 'ALERT', 'Leaderboard')


@pytest.mark.skipif(CHROMIUM is None, reason='chromium is not installed (apt-get install -y chromium); the headless browser test needs it')
def test_dashboard_renders_real_data_in_headless_chromium(dash_env, tmp_path, trained_store):
    """`housing dashboard` (streamlit run) on a loopback port, loaded by headless Chromium: screenshot + DOM.

    Headless Chromium's virtual time does not wait for WebSocket messages, over which Streamlit sends the page, so a
    load can be captured before the script's output arrives (and the server's first script run, which imports MLflow,
    takes seconds). So the DOM and the screenshot are taken in the same load, and the page is loaded again (for at
    most 150 s) until the DOM holds the data."""
    port = free_port()
    env = dict(os.environ, **dash_env)
    log = open(tmp_path/'streamlit.log', 'w')
    proc = subprocess.Popen([sys.executable, '-c', f'from housing.dashboard import dashboard; dashboard(port={port})'],
                            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url, png, dom, missing, loads = f'http://127.0.0.1:{port}/', tmp_path/'dashboard.png', '', list(EXPECTED), 0
    chrome = [CHROMIUM, *CHROME_FLAGS, f'--user-data-dir={tmp_path/"chrome"}']
    try:
        wait_http(f'{url}_stcore/health', proc, timeout=90)
        deadline, loads = time.monotonic() + 150, 0
        while missing and time.monotonic() < deadline:  # the first loads start the server's (slow) first script run
            png.unlink(missing_ok=True)
            dom = subprocess.run([*chrome, '--dump-dom', f'--screenshot={png}', url], capture_output=True, text=True, timeout=120).stdout
            missing, loads = [t for t in EXPECTED if t not in dom], loads + 1
            if missing: time.sleep(2)
    finally:
        stop(proc); log.close()
    assert proc.returncode is not None  # the server stopped with its launcher: dashboard() execs streamlit
    print(f'\nchromium: {loads} load(s) until the page showed its data; screenshot {png}')
    keep = os.environ.get('HOUSING_KEEP_SCREENSHOT')
    if keep and png.exists(): shutil.copy(png, keep)
    assert not missing, f'not rendered after {loads} loads: {missing}; streamlit log: {(tmp_path/"streamlit.log").read_text()[-2000:]}'
    assert f"v{trained_store['version']}" in dom and 'Traceback' not in dom and 'No leaderboard' not in dom
    assert png.exists() and png.stat().st_size > 50_000
