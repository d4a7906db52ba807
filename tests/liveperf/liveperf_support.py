"""Helpers of the live performance tests (imported by name from this uniquely named module, not from conftest)."""
import time
from pathlib import Path

import numpy as np

LABELS_DDL = ('CREATE TABLE IF NOT EXISTS labels (request_id TEXT NOT NULL, row INTEGER NOT NULL, ts REAL NOT NULL /* received, unix s */, '
              'actual REAL NOT NULL, source TEXT, PRIMARY KEY (request_id, row))')  # the contract's DDL, literally


def write_traffic(path: Path, store: dict, start: int = 0, n: int = 1000, labelled: int = 600, factor: float = 1.0,
                  batch: int = 4, ts: float | None = None, prefix: str = 'r') -> dict:
    """Predictions of held-out rows start..start+n by the champion, `batch` rows per request; labels (price x `factor`)
    for the first `labelled`, inserted with plain SQL through `PredictionLog.run`. Returns the labelled truth."""
    from housing.predlog import PredictionLog
    res = store['result']
    X, y = res.X_test.iloc[start:start + n], res.y_test.to_numpy()[start:start + n] * factor
    pred = res.pipeline.predict(X)
    ts = time.time() if ts is None else ts
    rows = [{**X.iloc[i].to_dict(), 'prediction': float(pred[i]), 'model_version': store['version'],
             'request_id': f'{prefix}{i // batch}', 'ts': ts} for i in range(n)]
    labels = [(f'{prefix}{i // batch}', i % batch, ts + 60, float(y[i]), 'test') for i in range(labelled)]
    with PredictionLog(path) as log:
        log.write(rows)
        log.run(lambda con: (con.execute(LABELS_DDL), con.executemany('INSERT INTO labels VALUES (?, ?, ?, ?, ?)', labels)))
    return dict(actual=y[:labelled], prediction=pred[:labelled], X=X)


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))
