"""The run cache: a training run is reused when its key (notebook, code, resolved parameters, data, seed, environment)
matches a FINISHED run, retrained on any change or with --force; the pipeline and the leaderboard treat a cached run as
present; executed training reports show no MLflow chatter and the parameters that ran."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from housing import runcache
from housing.reports import leaderboard, pipeline
from housing.runner import run_training

HOUSING = Path(sys.executable).parent/'housing'


@pytest.fixture(scope='module')
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp('cache')
    return dict(uri=f"sqlite:///{d/'mlflow.db'}", dir=d)


@pytest.fixture(scope='module')
def params(store):
    return {'tracking_uri': store['uri'], 'experiment': 'cache', 'cv_folds': 2, 'register': False}


@pytest.fixture(scope='module')
def first(store, params):
    """The first run in a fresh store (so MLflow creates its tables inside the notebook's kernel)."""
    r = run_training('linear', params, output_dir=store['dir']/'runs')
    assert r.ok and not r.cached, r.error
    return r


def test_unchanged_training_is_a_cache_hit_on_the_same_run(first, store, params):
    again = run_training('linear', params, output_dir=store['dir']/'runs')
    assert again.cached and again.ok and again.run_id == first.run_id
    assert again.metrics['test_rmse'] == first.metrics['test_rmse'] and again.wall_s < 15
    tags = mlflow.MlflowClient(store['uri'], store['uri']).get_run(first.run_id).data.tags
    assert tags[runcache.RUN_KEY_TAG] == runcache.run_key('linear', params, tags['data.sha256'])[0]


def test_changed_parameters_miss_and_train_a_new_run(first, store, params):
    other = run_training('linear', {**params, 'model_params': {'alpha': 0.5}}, output_dir=store['dir']/'other')
    assert other.ok and not other.cached and other.run_id != first.run_id


def test_force_trains_again_and_later_runs_hit_the_newest(first, store, params):
    forced = run_training('linear', params, output_dir=store['dir']/'forced', force=True)
    assert forced.ok and not forced.cached and forced.run_id != first.run_id
    assert forced.metrics['test_rmse'] == first.metrics['test_rmse']  # same key, same numbers
    assert run_training('linear', params, output_dir=store['dir']/'forced').run_id == forced.run_id


@pytest.mark.parametrize('part', ['notebook', 'code', 'params', 'data', 'seed', 'environment'])
def test_every_key_part_changes_the_key(part, tmp_path, monkeypatch):
    import housing.tracking
    from housing.config import get_settings
    nb = get_settings().pipelines_dir/'train.ipynb'
    base = runcache.run_key('linear', {}, 'data-a', nb)
    if part == 'notebook':
        copy = json.loads(nb.read_text()); copy['cells'][0]['source'] = ['# edited\n']
        (tmp_path/'train.ipynb').write_text(json.dumps(copy)); shutil.copy(nb, tmp_path/'same.ipynb')
        assert runcache.run_key('linear', {}, 'data-a', tmp_path/'same.ipynb') == base  # a copy is the same notebook
        changed = runcache.run_key('linear', {}, 'data-a', tmp_path/'train.ipynb')
    elif part == 'code':
        monkeypatch.setattr(housing.tracking, 'code_hash', lambda: 'other-code')
        changed = runcache.run_key('linear', {}, 'data-a', nb)
    elif part == 'params': changed = runcache.run_key('linear', {'cv_folds': 3}, 'data-a', nb)
    elif part == 'data': changed = runcache.run_key('linear', {}, 'data-b', nb)
    elif part == 'seed': changed = runcache.run_key('linear', {'seed': 7}, 'data-a', nb)
    else:
        (tmp_path/'requirements').mkdir(); (tmp_path/'requirements'/'base.lock').write_text('numpy==2.0\n')
        monkeypatch.setenv('HOUSING_HOME', str(tmp_path))
        changed = runcache.run_key('linear', {}, 'data-a', nb)
    assert changed[0] != base[0]
    assert [k for k in base[1] if base[1][k] != changed[1][k]] == [part if part != 'params' else 'params']


def test_where_the_run_is_stored_is_not_part_of_the_key():
    a = runcache.run_key('linear', {'tracking_uri': 'sqlite:///a.db', 'experiment': 'x', 'progress_file': '/tmp/p'}, 'd')
    assert a[0] == runcache.run_key('linear', {}, 'd')[0]


def test_cli_train_says_cached_and_force_retrains(first, store, params):
    args = [HOUSING, 'train', 'linear', '-p', 'tracking_uri', store['uri'], '-p', 'experiment', 'cache', '-p', 'cv_folds', '2',
            '-p', 'register', 'False']
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.startswith('cached: run '), r.stdout + r.stderr
    assert '--force' in r.stdout


def test_pipeline_twice_trains_nothing_the_second_time(store, params, first):
    lines = []
    assert pipeline(['linear'], params, echo=lines.append, reports_dir=store['dir']/'reports') == 0
    assert any(line.startswith('  cached: run ') for line in lines)
    board = leaderboard(store['uri'], 'cache')
    timing = json.loads((store['dir']/'reports'/'pipeline_timing.json').read_text())
    assert timing['notebooks']['linear']['cached'] and timing['notebooks']['linear']['run'] in set(board['run'])
    assert 'cached: ' in (store['dir']/'reports'/'leaderboard.html').read_text()


def test_training_report_shows_the_parameters_that_ran_and_no_mlflow_chatter(first):
    page = first.html.read_text()
    for chatter in ('Creating initial MLflow database tables', 'Context impl SQLiteImpl', "Registered model", 'INFO mlflow'):
        assert chatter not in page, chatter
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in page  # no stderr box (the stylesheet names the type)
    assert 'Parameters of this run' in page
    text = re.sub(r'<[^>]+>', '', page)
    assert re.search(r'cv_folds\s*=\s*2', text) and not re.search(r'cv_folds\s*=\s*5', text)
