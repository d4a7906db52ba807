"""Fixtures for the shadow tests: a copy of the test store with a second registered version under the `challenger` alias."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'api'))  # the API tests' `housing serve` and HTTP helpers
from api_support import clean_api_env  # noqa: E402, F401 - autouse: each test starts from default API settings

_TRAIN_CHALLENGER = '''
import sys
from housing import train
from housing.config import MODEL_NAME
from housing.tracking import client
uri = sys.argv[1]
train.start_run('linear', uri, 'test-shadow')
r = train.fit_evaluate('linear', {}, seed=42, cv_folds=0)
v = train.log_result(r); train.end_run()
client(uri).set_registered_model_alias(MODEL_NAME, 'challenger', v)
print(v)
'''


@pytest.fixture(scope='session')
def challenger_store(trained_store, tmp_path_factory):
    "A copy of the test store: version 1 (hist_gradient_boosting) is champion, version 2 (linear) is challenger"
    d = tmp_path_factory.mktemp('shadow-store')
    shutil.copy(Path(trained_store['tracking_uri'].removeprefix('sqlite:///')), d/'mlflow.db')
    uri = f"sqlite:///{d/'mlflow.db'}"
    env = {**os.environ, 'MLFLOW_TRACKING_URI': uri}
    out = subprocess.run([sys.executable, '-c', _TRAIN_CHALLENGER, uri], env=env, cwd=d, capture_output=True, text=True, check=False)  # nosec B603
    assert out.returncode == 0, out.stderr[-3000:]
    return {**trained_store, 'tracking_uri': uri, 'champion': trained_store['version'], 'challenger': out.stdout.split()[-1],
            'challenger_uri': 'models:/california-housing@challenger'}


@pytest.fixture(scope='session')
def labelled_rows(housing_frame):
    "300 real rows with their MedHouseVal"
    return housing_frame.iloc[:300].reset_index(drop=True)
