"""Fixtures for the batch-scoring tests: 10,000 real rows with broken ones among them, the champion, one Spark session."""
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_configure(config):
    config.addinivalue_line('markers', 'slow: takes more than a few seconds beyond the fast suite')


def broken_rows(frame: pd.DataFrame) -> dict:
    "Row number -> (field, value) for the rule breaks planted in `frame` (one per kind)"
    plan = {17: ('Latitude', 50.1), 250: ('MedInc', 0.0), 1999: ('HouseAge', np.nan), 3001: ('AveBedrms', 1e6),
            4242: ('Population', 0.5), 5000: ('Longitude', np.inf), 7777: ('AveOccup', -1.0)}
    for i, (f, v) in plan.items(): frame.loc[i, f] = v
    frame.loc[8888, 'AveBedrms'] = frame.loc[8888, 'AveRooms'] + 1  # cross rule only
    frame.loc[9000, ['MedInc', 'Latitude']] = [np.nan, 99.0]  # two problems in one row
    return plan


@pytest.fixture(scope='session')
def score_frame_10k(housing_frame):
    "10,000 real rows (resampled, seeded), one in each kind broken; plus a row beyond the training range"
    from housing.data import FEATURES
    rng = np.random.default_rng(13)
    df = housing_frame[FEATURES].sample(10_000, replace=True, random_state=13).reset_index(drop=True)
    df['MedInc'] = (df['MedInc'] * rng.uniform(0.98, 1.02, len(df))).clip(0.5, 15)
    broken_rows(df)
    df.loc[42, 'AveRooms'] = 900.0  # possible (<= 1000), beyond anything in training: scored and flagged
    return df


@pytest.fixture(scope='session')
def score_files(score_frame_10k, tmp_path_factory):
    d = tmp_path_factory.mktemp('score-input')
    score_frame_10k.to_parquet(d/'rows.parquet', index=False)
    score_frame_10k.to_csv(d/'rows.csv', index=False)
    return dict(parquet=d/'rows.parquet', csv=d/'rows.csv', dir=d)


@pytest.fixture(scope='session')
def scorer(trained_store):
    from housing.score import load_scorer
    return load_scorer(trained_store['model_uri'], trained_store['tracking_uri'])


@pytest.fixture(scope='session')
def spark():
    "One local[2] SparkSession for the module's engine tests (a JVM start costs seconds to a minute)"
    pytest.importorskip('pyspark', reason="the spark engine needs pyspark: pip install 'housing[spark]'")
    if not (shutil.which('java') or os.environ.get('JAVA_HOME')):
        pytest.skip('the spark engine needs a Java runtime: apt-get install default-jre-headless')
    from housing.score_spark import spark_session
    s = spark_session('local[2]')
    yield s
    s.stop()
