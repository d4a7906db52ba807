"""Fixtures of the live performance tests: a prediction log holding the champion's predictions of held-out rows, with labels."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from liveperf_support import write_traffic  # noqa: E402


@pytest.fixture
def traffic():
    return write_traffic


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    "Loss estimators fitted by a test go to its temporary folder, never the checkout's .cache"
    monkeypatch.setenv('HOUSING_CACHE_DIR', str(tmp_path/'estimators'))
