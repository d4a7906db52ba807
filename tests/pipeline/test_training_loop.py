"""Pipeline tests: the real training notebook through papermill into a temporary MLflow store, promotion on
real runs, reproducibility and the leaderboard."""
import json

import mlflow
import numpy as np
import pytest

from housing import train
from housing.config import MODEL_NAME
from housing.reports import leaderboard, write_leaderboard
from housing.runner import run_training
from housing.tracking import load_model, promote_best

FAST_HGB = {'max_iter': 40}


@pytest.fixture(scope='module')
def store(tmp_path_factory, monkeypatch_module):
    d = tmp_path_factory.mktemp('store')
    uri = f"sqlite:///{d/'mlflow.db'}"
    monkeypatch_module.setenv('MLFLOW_TRACKING_URI', uri)
    return dict(uri=uri, dir=d)


@pytest.fixture(scope='module')
def monkeypatch_module():
    mp = pytest.MonkeyPatch(); yield mp; mp.undo()


@pytest.fixture(scope='module')
def linear_run(store):
    """One real papermill run of the training notebook."""
    return run_training('linear', {'tracking_uri': store['uri'], 'experiment': 'tests'}, output_dir=store['dir']/'runs', force=True)


def test_notebook_run_logs_everything_to_mlflow(linear_run, store):
    r = linear_run
    assert r.ok, r.error
    assert r.output.exists() and r.html.exists() and '<img' in r.html.read_text()
    client = mlflow.MlflowClient(store['uri'], store['uri'])
    run = client.get_run(r.run_id)
    assert run.info.status == 'FINISHED'
    m = run.data.metrics
    for k in ('test_rmse', 'test_mae', 'test_r2', 'cv_rmse_mean', 'cv_rmse_std', 'fit_time_s', 'predict_latency_ms',
              'test_rmse_capped', 'test_rmse_uncapped', 'notebook_wall_s', 'papermill_overhead_s'):
        assert k in m, k
    assert 0.6 < m['test_rmse'] < 0.75
    assert run.data.tags['data.sha256'] == json.load(open('data/manifest.json'))['sha256']
    assert len(run.data.tags['git.commit'].split('-')[0]) in (40, 7) or run.data.tags['git.commit'] == 'unknown'
    assert run.data.params['model'] == 'linear' and run.data.params['seed'] == '42'
    assert [i.dataset.digest for i in run.inputs.dataset_inputs] == [run.data.tags['data.sha256'][:16]]
    arts = {a.path for p in ('', 'plots', 'notebook') for a in client.list_artifacts(r.run_id, p)}
    for a in ('plots/pred_vs_actual.png', 'plots/residuals.png', 'plots/feature_importance.png', 'notebook/linear.ipynb', 'notebook/linear.html'):
        assert a in arts, (a, arts)
    executed = r.output.read_text()
    assert r.run_id in executed  # the run id is written into the notebook


def test_registered_model_loads_and_predicts(linear_run, store, housing_frame):
    client = mlflow.MlflowClient(store['uri'], store['uri'])
    v = next(v for v in client.search_model_versions(f"name='{MODEL_NAME}'") if v.run_id == linear_run.run_id)
    lm = load_model(f'models:/{MODEL_NAME}/{v.version}', store['uri'])
    rows = housing_frame.iloc[:5, :8].to_numpy()
    p = lm.pipeline.predict(rows)
    assert p.shape == (5,) and np.isfinite(p).all()
    assert lm.metadata['model'] == 'linear' and set(lm.metadata['feature_ranges']) == set(housing_frame.columns[:8])
    # Everything through this client's own store. Another test in this process may have pointed MLflow's
    # process-wide tracking/registry URI elsewhere, and both `models:/` URIs and `get_model_info` (which
    # looks the logged model up by id) read that global. The MLmodel file itself holds what we check.
    local = mlflow.artifacts.download_artifacts(artifact_uri=client.get_model_version_download_uri(MODEL_NAME, v.version))
    mlmodel = mlflow.models.Model.load(local)
    assert mlmodel.signature is not None and mlmodel.saved_input_example_info is not None


def test_a_failing_notebook_marks_its_run_failed(store, tmp_path):
    r = run_training('linear', {'tracking_uri': store['uri'], 'experiment': 'tests', 'data_path': str(tmp_path/'missing.data')},
                     output_dir=tmp_path)
    assert not r.ok and 'DataError' in r.error and 'file not found' in r.error
    assert r.run_id and mlflow.MlflowClient(store['uri'], store['uri']).get_run(r.run_id).info.status == 'FAILED'
    assert r.output.exists()  # the partial notebook is kept


def test_same_model_params_and_seed_give_identical_metrics(store, tmp_path):
    a = run_training('hist_gradient_boosting', {'tracking_uri': store['uri'], 'experiment': 'repro', 'model_params': FAST_HGB,
                                                'cv_folds': 3, 'register': False}, output_dir=tmp_path/'a', force=True)
    b = run_training('hist_gradient_boosting', {'tracking_uri': store['uri'], 'experiment': 'repro', 'model_params': FAST_HGB,
                                                'cv_folds': 3, 'register': False}, output_dir=tmp_path/'b', force=True)  # retrain: not the cache
    assert a.ok and b.ok and a.run_id != b.run_id
    for k in ('test_rmse', 'test_mae', 'test_r2', 'cv_rmse_mean', 'cv_rmse_std', 'test_rmse_capped'):
        assert a.metrics[k] == b.metrics[k], k


def test_promotion_chooses_lowest_cv_rmse_on_the_manifest_data(store, linear_run, housing_frame):
    uri = store['uri']
    # a better model on the official data
    train.start_run('hist_gradient_boosting', uri, 'tests')
    better = train.fit_evaluate('hist_gradient_boosting', FAST_HGB, cv_folds=2, data=housing_frame)
    v_better = train.log_result(better); train.end_run()
    # a model on other data (a subset) whose CV RMSE beats the linear one: it must not compete
    train.start_run('hist_gradient_boosting', uri, 'tests')
    other = train.fit_evaluate('hist_gradient_boosting', FAST_HGB, cv_folds=2, data=housing_frame.iloc[:3000])
    v_other = train.log_result(other); train.end_run()
    p = promote_best(tracking_uri=uri)
    assert p.version == v_better and p.changed and 'champion -> version' in str(p)
    again = promote_best(tracking_uri=uri)
    assert not again.changed and str(again).startswith('unchanged')
    client = mlflow.MlflowClient(uri, uri)
    cvs = {str(v.version): client.get_run(v.run_id).data.metrics.get('cv_rmse_mean') for v in client.search_model_versions(f"name='{MODEL_NAME}'")}
    on_data = {v: c for v, c in cvs.items() if v != v_other and c is not None}
    assert p.version == min(on_data, key=on_data.get)
    champ = load_model(f'models:/{MODEL_NAME}@champion', uri)
    assert champ.version == v_better and champ.alias == 'champion'


def test_leaderboard_shows_every_model_beside_the_seed_claims(store, linear_run, tmp_path):
    board = leaderboard(store['uri'], 'tests')
    assert {'linear', 'hist_gradient_boosting'} <= set(board['model'])
    assert board['CV RMSE'].is_monotonic_increasing
    html = write_leaderboard(board, out_dir=tmp_path).read_text()
    assert 'linear' in html and '0.743' in html and 'seed claim' in html
    assert (tmp_path/'leaderboard.md').exists() and (tmp_path/'index.html').exists()
