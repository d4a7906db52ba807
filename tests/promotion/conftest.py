"""Fixtures for the promotion tests: a real MLflow store with two trained versions (no alias yet), copied per test."""
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # promotion_support
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'api'))  # api_support: the real server and its load client
HOUSING = Path(sys.executable).parent/'housing'


@pytest.fixture(scope='session')
def base_store(tmp_path_factory, housing_frame):
    "version 1: the linear baseline (also saved alone as linear-only.db); version 2: a small hist_gradient_boosting, better by CV"
    import logging
    from housing import train
    logging.getLogger('mlflow').setLevel(logging.ERROR)
    d = tmp_path_factory.mktemp('promotion-store')
    uri = f"sqlite:///{d/'mlflow.db'}"
    old = os.environ.get('MLFLOW_TRACKING_URI')
    os.environ['MLFLOW_TRACKING_URI'] = uri
    try:
        versions = []
        for model, params in (('linear', {}), ('hist_gradient_boosting', {'max_iter': 40})):
            train.start_run(model, uri, 'promotion-tests')
            versions.append(train.log_result(train.fit_evaluate(model, params, seed=42, cv_folds=2, data=housing_frame)))
            train.end_run()
            if model == 'linear': shutil.copy(d/'mlflow.db', d/'linear-only.db')
    finally:
        if old is None: os.environ.pop('MLFLOW_TRACKING_URI', None)
        else: os.environ['MLFLOW_TRACKING_URI'] = old
    assert versions == ['1', '2']
    return d


@pytest.fixture
def store(base_store, tmp_path):
    "A copy of the base store's registry for one test (the model files stay where the base store put them)"
    def copy(db: str = 'mlflow.db', champion: str | None = None) -> str:
        shutil.copy(base_store/db, tmp_path/'mlflow.db')
        uri = f"sqlite:///{tmp_path/'mlflow.db'}"
        if champion:
            from housing.promotion import move_alias
            move_alias(champion, 'test set-up', tracking_uri=uri)
        return uri
    return copy


@pytest.fixture
def cli(tmp_path):
    "Run `housing ARGS` against a store URI (and this test's prediction log); returns the CompletedProcess"
    import subprocess
    def run(uri: str, *args: str, log: Path | None = None, timeout: float = 900, env: dict | None = None):
        env = dict(os.environ, MLFLOW_TRACKING_URI=uri, HOUSING_PREDICTION_LOG=str(log or tmp_path/'predictions.db'), **(env or {}))
        return subprocess.run([str(HOUSING), *args], capture_output=True, text=True, env=env, timeout=timeout)  # nosec B603
    return run


@pytest.fixture(scope='session')
def sample_rows(housing_frame):
    "200 real rows as dicts"
    from housing.data import FEATURES
    return [dict(zip(FEATURES, map(float, r))) for r in housing_frame[FEATURES].to_numpy()[:200]]
