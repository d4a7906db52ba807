"""Shared fixtures: the real data file, and a real (temporary) MLflow store with a registered champion."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent/'shared'/'data'/'cal_housing.data'
if 'HOUSING_RAW_DATA' not in os.environ and _SHARED.exists():
    os.environ['HOUSING_RAW_DATA'] = str(_SHARED)
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')  # see Makefile


@pytest.fixture(scope='session')
def raw_data_path() -> Path:
    p = os.environ.get('HOUSING_RAW_DATA')
    if not p or not Path(p).exists():
        pytest.fail('the real data is needed: set HOUSING_RAW_DATA to the StatLib cal_housing.data file')
    return Path(p)


@pytest.fixture(scope='session')
def housing_frame(raw_data_path):
    from housing.data import load_housing
    return load_housing(raw_data_path)


@pytest.fixture(scope='session')
def trained_store(tmp_path_factory, housing_frame):
    """A temporary SQLite MLflow store holding a small hist_gradient_boosting model, registered and promoted to champion."""
    from housing import train
    from housing.config import MODEL_NAME
    from housing.tracking import promote_best
    d = tmp_path_factory.mktemp('mlflow')
    uri = f"sqlite:///{d/'mlflow.db'}"
    old = os.environ.get('MLFLOW_TRACKING_URI')
    os.environ['MLFLOW_TRACKING_URI'] = uri
    run = train.start_run('hist_gradient_boosting', uri, 'test-fixture')
    result = train.fit_evaluate('hist_gradient_boosting', {'max_iter': 60}, seed=42, cv_folds=2, data=housing_frame)
    version = train.log_result(result)
    train.end_run()
    promote_best(tracking_uri=uri)
    yield dict(tracking_uri=uri, model_uri=f'models:/{MODEL_NAME}@champion', run_id=run.info.run_id, version=version,
               root=d, result=result)
    if old is None: os.environ.pop('MLFLOW_TRACKING_URI', None)
    else: os.environ['MLFLOW_TRACKING_URI'] = old
