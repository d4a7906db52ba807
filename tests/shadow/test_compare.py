"""`housing compare` renders the champion/challenger comparison with papermill (a real kernel) as offline HTML,
with its sections and, where labels exist, the paired bootstrap's verdict; the reports index links it."""
import re

import pytest

from housing.data import FEATURES, TARGET

LABELS_DDL = ('CREATE TABLE IF NOT EXISTS labels (request_id TEXT NOT NULL, row INTEGER NOT NULL, ts REAL NOT NULL, '
              'actual REAL NOT NULL, source TEXT, PRIMARY KEY (request_id, row))')


@pytest.fixture(scope='module')
def shadowed_log(challenger_store, labelled_rows, tmp_path_factory):
    "A log of 300 rows served by the champion in 30 requests of 10, the challenger's predictions, and labels for every other request"
    from prometheus_client import CollectorRegistry
    from housing.predlog import PredictionLog, prediction_row
    from housing.shadow import Shadow
    from housing.tracking import load_model
    path = tmp_path_factory.mktemp('compare')/'log.db'
    champion = load_model('models:/california-housing@champion', challenger_store['tracking_uri'])
    X, y = labelled_rows[FEATURES], labelled_rows[TARGET].to_numpy()
    pred = champion.pipeline.predict(X)
    with PredictionLog(path) as log:
        sh = Shadow(log, challenger_store['challenger_uri'], challenger_store['tracking_uri'], registry=CollectorRegistry())
        sh.refresh()
        for k in range(30):
            rows = [prediction_row(list(X.iloc[i]), pred[i], champion.version, request_id=f'q{k}') for i in range(10 * k, 10 * k + 10)]
            log.write([dict(zip(['request_id', 'ts', *FEATURES, 'prediction', 'model_version'], r)) for r in rows])
            sh.offer(rows)
        assert sh.drain() == 300
        labels = [(f'q{k}', i, 0.0, float(y[10 * k + i]), 'test') for k in range(0, 30, 2) for i in range(10)]
        log.run(lambda con: (con.execute(LABELS_DDL), con.executemany('INSERT INTO labels VALUES (?,?,?,?,?)', labels)))
    return path


def test_compare_renders_offline_html_with_its_sections_and_a_verdict(shadowed_log, tmp_path, challenger_store):
    from housing.shadow import read_shadow, run_compare
    from housing.site import write_index
    df = read_shadow(shadowed_log)
    assert len(df) == 300 and df.actual.notna().sum() == 150
    said = []
    assert run_compare(prediction_log=shadowed_log, output_dir=tmp_path/'reports'/'compare', echo=said.append) == 0
    html_path, = (tmp_path/'reports'/'compare').glob('*.html')
    html = html_path.read_text()
    text = re.sub(r'<[^>]+>', ' ', html)
    for section in ('Agreement', 'Prediction shift', 'By region', 'Paired bootstrap of the RMSE difference', 'bay_area', 'los_angeles'):
        assert section in text, section
    verdict = re.search(r'Verdict: (challenger better|champion better|no clear difference)', text)
    assert verdict, text[-2000:]
    assert 'labelled rows' in text and '150' in text
    assert 'src="http' not in html and html.count('data:image/png') >= 2  # offline: the figures are embedded
    assert verdict.group(1) in said[0] and '300 rows' in said[0]
    index = write_index(tmp_path/'reports', tracking_uri=challenger_store['tracking_uri']).read_text()
    assert f'href="compare/{html_path.name}"' in index


def test_compare_refuses_a_window_without_challenger_predictions(shadowed_log, tmp_path):
    from housing.shadow import run_compare
    said = []
    assert run_compare(prediction_log=shadowed_log, since=4_000_000_000, output_dir=tmp_path, echo=said.append) == 2
    assert 'no challenger predictions' in said[0] and not list(tmp_path.glob('*.html'))
