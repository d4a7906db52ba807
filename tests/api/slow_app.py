"""A uvicorn factory serving a deliberately slow model, for the overload test: `python -m uvicorn slow_app:create --factory`.

Settings come from the environment as for `housing serve`; `SLOW_MODEL_SECONDS` is how long each model call sleeps."""
import os
import time

import numpy as np

from housing.api import create_app
from housing.tracking import LoadedModel


class SlowModel:
    "Answers 2.0 for every row, after sleeping: a model call that takes time without using the CPU"
    def __init__(self, seconds: float): self.seconds = seconds

    def predict(self, X):
        time.sleep(self.seconds)
        return np.full(len(X), 2.0)


def create():
    model = LoadedModel(pipeline=SlowModel(float(os.environ.get('SLOW_MODEL_SECONDS', '0.05'))), uri='models:/slow/1',
                        name='slow', version='1', alias=None, run_id='slow')
    return create_app(model=model)
