"""Helpers of the promotion tests (a uniquely named module: test files import from it, not from conftest)."""
from pathlib import Path

LABELS_DDL = ('CREATE TABLE IF NOT EXISTS labels (request_id TEXT NOT NULL, row INTEGER NOT NULL, ts REAL NOT NULL, actual REAL NOT NULL, '
              'source TEXT, PRIMARY KEY (request_id, row))')  # the shared contract (feedback writes it)
SHADOW_DDL = ('CREATE TABLE IF NOT EXISTS shadow (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, row INTEGER NOT NULL, ts REAL NOT NULL, '
              'prediction REAL, model_version TEXT, latency_ms REAL)')  # the shared contract (shadow writes it)


def write_labelled_log(path: Path, X, actual, champion: tuple, shadow: tuple | None = None, batch: int = 4, prefix: str = 'req'):
    "A prediction log of batch requests of `X` answered by `champion` = (version, predictions), labelled with `actual`; `shadow` likewise"
    import sqlite3
    import time
    from housing.data import FEATURES
    from housing.predlog import PredictionLog
    version, pred = champion
    rid = lambda i: f'{prefix}-{i // batch}'
    with PredictionLog(path) as log:
        log.write([dict(zip(FEATURES, map(float, x)), prediction=float(p), model_version=version, request_id=rid(i))
                   for i, (x, p) in enumerate(zip(X, pred))])
    now = time.time()
    with sqlite3.connect(path) as con:
        con.execute(LABELS_DDL)
        con.executemany('INSERT INTO labels VALUES (?, ?, ?, ?, ?)', [(rid(i), i % batch, now, float(y), 'test') for i, y in enumerate(actual)])
        if shadow:
            con.execute(SHADOW_DDL)
            con.executemany('INSERT INTO shadow (request_id, row, ts, prediction, model_version) VALUES (?, ?, ?, ?, ?)',
                            [(rid(i), i % batch, now, float(p), shadow[0]) for i, p in enumerate(shadow[1])])
    return path
