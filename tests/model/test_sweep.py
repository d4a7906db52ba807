"""The sweep notebook through papermill: nested trial runs under one parent, the winner chosen by CV RMSE only."""
import mlflow
import pytest

from housing.sweep import run_sweep, sweep_notebook


@pytest.fixture(scope='module')
def sweep_run(tmp_path_factory):
    d = tmp_path_factory.mktemp('sweep')
    uri = f"sqlite:///{d/'mlflow.db'}"
    params = {'cv_folds': '2', 'tracking_uri': uri, 'experiment': 'sweep-tests', 'n_estimators': '30'}
    return sweep_notebook('lightgbm_geo', 3, params, output_dir=d/'runs'), uri


def test_trials_are_nested_runs_under_one_parent_and_the_best_cv_wins(sweep_run):
    res, uri = sweep_run
    assert res.ok, res.error
    client = mlflow.MlflowClient(uri, uri)
    parent = client.get_run(res.run_id)
    assert parent.info.status == 'FINISHED' and parent.data.tags['sweep'] == 'parent'
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{res.run_id}'")
    assert len(children) == 3
    assert all(c.data.params['model.n_estimators'] == '30' for c in children)  # the fixed parameter in every trial
    best = min(c.data.metrics['cv_rmse_mean'] for c in children)
    assert parent.data.metrics['cv_rmse_mean'] == pytest.approx(best)
    assert {'test_rmse', 'test_rmse_capped', 'test_rmse_uncapped', 'predict_latency_ms'} <= set(parent.data.metrics)
    trial0 = next(c for c in children if c.data.tags['sweep.trial'] == '0')
    assert trial0.data.params['model.num_leaves'] == '63'  # the first trial is the catalogue defaults


def test_the_winner_is_registered_and_the_notebook_attached(sweep_run):
    res, uri = sweep_run
    client = mlflow.MlflowClient(uri, uri)
    versions = client.search_model_versions("name='california-housing'")
    assert [v.run_id for v in versions] == [res.run_id]
    arts = {a.path for a in client.list_artifacts(res.run_id, 'notebook')}
    assert {'notebook/sweep-lightgbm_geo.ipynb', 'notebook/sweep-lightgbm_geo.html'} <= arts


def test_bad_sweeps_fail_early_with_the_reason():
    from housing.models import ModelConfigError
    with pytest.raises(ModelConfigError, match='sweepable models'): run_sweep('blend', 2)
    with pytest.raises(ModelConfigError, match="unknown parameter 'n_trees'"): run_sweep('lightgbm_geo', 2, {'n_trees': '3'})
