"""`housing retrain`: the training split plus the labelled feedback rows (validated, deduplicated, hashed on the run),
registered as the challenger and never promoted; `housing monitor --retrain-on-alert` calls it; the scheduled workflow uses it."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from promotion_support import write_labelled_log
from housing.config import MODEL_NAME
from housing.data import FEATURES, split_train_test
from housing.promotion import alias_history
from housing.retrain import clean_feedback, feedback_hash, labelled_rows
from housing.tracking import client, describe_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def feedback_log(housing_frame, tmp_path):
    "300 held-out rows served by version 1 and labelled; 5 of them labelled twice (later, another price), 3 with impossible labels"
    _, X_test, _, y_test = split_train_test(housing_frame)
    X, y = X_test.to_numpy()[:300], y_test.to_numpy()[:300].copy()
    y[:3] = [0.0, -1.0, 50.0]
    path = write_labelled_log(tmp_path/'predictions.db', X, y, champion=('1', np.full(len(y), 2.0)))
    write_labelled_log(path, X[10:15], y[10:15] * 1.1, champion=('1', np.full(5, 2.0)), batch=1, prefix='again')  # new requests, same blocks
    return path


def alias(uri: str, name: str) -> str:
    return describe_model(f'models:/{MODEL_NAME}@{name}', uri).version


def test_feedback_is_validated_deduplicated_and_hashed(feedback_log):
    rows, dropped = clean_feedback(labelled_rows(feedback_log))
    assert len(labelled_rows(feedback_log)) == 305
    assert dropped == {'label outside 0..5.00001': 3, 'duplicate block (newest label kept)': 5}
    assert len(rows) == 297 and not rows.duplicated(FEATURES).any()
    assert feedback_hash(rows) == feedback_hash(clean_feedback(labelled_rows(feedback_log).sample(frac=1, random_state=0))[0])


def test_housing_retrain_registers_a_challenger_with_its_feedback_hash_and_never_promotes(store, cli, feedback_log):
    uri = store(champion='1')
    r = cli(uri, 'retrain', '--cv-folds', '2', log=feedback_log)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith('challenger -> version 3 (linear') and 'trained with 297 feedback rows' in r.stdout
    assert 'not promoted' in r.stdout
    assert (alias(uri, 'challenger'), alias(uri, 'champion')) == ('3', '1')
    run = client(uri).get_run(describe_model(f'models:/{MODEL_NAME}/3', uri).run_id)
    rows, _ = clean_feedback(labelled_rows(feedback_log))
    assert run.data.tags['feedback.sha256'] == feedback_hash(rows) and run.data.tags['feedback.rows'] == '297'
    assert run.data.metrics['extra_rows'] == 297
    assert alias_history(tracking_uri=uri)[-1] | {'ts': 0} == {
        'ts': 0, 'alias': 'challenger', 'from': None, 'to': '3', 'why': f'retrained with 297 feedback rows ({feedback_hash(rows)[:12]}): housing retrain'}


def test_retrain_without_labels_says_so(store, cli, tmp_path):
    r = cli(store(champion='1'), 'retrain', log=tmp_path/'no-log.db')
    assert r.returncode == 2 and '0 valid labelled feedback rows' in r.stderr and 'POST /feedback' in r.stderr


def test_monitor_retrain_on_alert_retrains_when_the_report_alerts(store, cli, feedback_log, housing_frame, tmp_path):
    uri = store(champion='1')
    shifted = housing_frame[FEATURES].sample(2000, random_state=1).assign(MedInc=lambda d: d.MedInc * 2.5)
    shifted.to_csv(tmp_path/'shifted.csv', index=False)
    r = cli(uri, 'monitor', '--current', str(tmp_path/'shifted.csv'), '--retrain-on-alert', log=feedback_log)
    assert r.returncode == 0, r.stdout + r.stderr  # without --fail-on-alert an ALERT is reported, not an exit status
    assert 'drift report: ALERT' in r.stdout and 'challenger -> version 3' in r.stdout
    assert (alias(uri, 'challenger'), alias(uri, 'champion')) == ('3', '1')
    assert client(uri).get_run(describe_model(f'models:/{MODEL_NAME}/3', uri).run_id).data.tags['retrain.trigger'] == 'housing monitor: ALERT'


def test_the_scheduled_workflow_retrains_through_the_monitor_and_never_promotes():
    text = (ROOT/'.github'/'workflows'/'retrain.yml').read_text()
    wf = yaml.safe_load(text)
    on = wf.pop(True, wf.get('on'))  # YAML 1.1 reads the key `on` as True
    assert all(re.fullmatch(r'\S+ \S+ \* \* \S+', c['cron']) for c in on['schedule'])
    runs = '\n'.join(s.get('run', '') for s in wf['jobs']['retrain']['steps'])
    assert 'housing monitor --window 7d --retrain-on-alert' in runs and 'housing retrain' in runs
    assert 'promote' not in runs
    checker = shutil.which('check-jsonschema') or str(Path(__import__('sys').executable).parent/'check-jsonschema')
    if Path(checker).exists():
        r = subprocess.run([checker, '--builtin-schema', 'vendor.github-workflows', str(ROOT/'.github'/'workflows'/'retrain.yml')],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
