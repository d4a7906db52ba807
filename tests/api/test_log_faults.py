"""The log heals: a real disk that fills up (a small tmpfs) and a log file removed under the server; predictions come back by themselves."""
import errno
import subprocess
import time
from pathlib import Path

import pytest

from housing.logquery import read_predictions
from housing.validation import EXAMPLE_ROW


@pytest.fixture
def small_disk(tmp_path):
    "A 3 MiB tmpfs mounted for the test (needs root and mount rights; else the test is skipped, saying why)"
    mnt = tmp_path/'disk'
    mnt.mkdir()
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', str(mnt)], capture_output=True, text=True)  # nosec B603 B607
    if r.returncode != 0:
        pytest.skip(f'cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}): the disk-full test needs root and mount rights')
    try: yield mnt
    finally: subprocess.run(['umount', '-l', str(mnt)], capture_output=True)  # nosec B603 B607


def fill(disk: Path, name: str) -> Path:
    "Write a file until the disk is full; the file"
    junk = disk/name
    with open(junk, 'wb') as f:
        try:
            while True: f.write(b'\0' * 65536); f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    return junk


def until(check, seconds: float, step: float = 0.05):
    "Seconds until `check()` is true (None if not within `seconds`)"
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        if check(): return time.monotonic() - t
        time.sleep(step)
    return None


def test_a_full_disk_is_a_503_and_the_log_recovers_within_5_s_of_space_coming_back(make_client, small_disk, sample_rows):
    c = make_client(prediction_log=small_disk/'log.db', microbatch=False)
    assert c.post('/predict', json=EXAMPLE_ROW).status_code == 200
    junks = [fill(small_disk, 'junk0')]
    batch = {'instances': (sample_rows * 5)[:1000]}
    statuses = []
    for _ in range(200):  # the WAL may still have room for a few commits: write until it has none
        statuses.append(c.post('/predict/batch', json=batch).status_code)
        if statuses[-1] == 503:
            junks.append(fill(small_disk, f'junk{len(junks)}'))  # a failed commit may free space (the WAL is reset): take it too
            if c.get('/ready').status_code == 503: break
    assert statuses[-1] == 503, statuses
    r = c.post('/predict/batch', json=batch)
    assert r.status_code == 503 and 'could not be logged' in r.json()['detail'] and r.headers['retry-after'] == '1'
    time.sleep(1.5)  # the heartbeat has tried again meanwhile: still full
    ready, health = c.get('/ready'), c.get('/health').json()
    assert ready.status_code == 503 and ready.json()['prediction_log']['writable'] is False, ready.json()
    assert health['status'] == 'degraded' and health['prediction_log']['error'], health  # SQLite says 'disk I/O error' or 'full'
    for junk in junks: junk.unlink()  # the cause goes away
    answered = []
    def served():
        r = c.post('/predict', json=EXAMPLE_ROW)
        if r.status_code == 200: answered.append(r.json()['request_id'])
        return r.status_code == 200
    recovery = until(served, 10)
    ready_after = until(lambda: c.get('/ready').status_code == 200, 10)
    print(f'\ndisk full after {len(statuses)} batches; predictions answered and logged again {recovery:.2f} s after space came back; '
          f'/ready 200 {ready_after:.2f} s later')
    assert recovery is not None and recovery < 5
    assert answered[0] in set(read_predictions(small_disk/'log.db').request_id)
    assert c.get('/health').json()['status'] == 'ok'


def test_a_removed_log_file_is_recreated_and_written(make_client, tmp_path):
    c = make_client(prediction_log=tmp_path/'log.db')
    assert c.post('/predict', json=EXAMPLE_ROW).status_code == 200
    for suffix in ('', '-wal', '-shm'): Path(f'{tmp_path}/log.db{suffix}').unlink(missing_ok=True)
    r = c.post('/predict', json=EXAMPLE_ROW)
    assert r.status_code == 200
    assert read_predictions(tmp_path/'log.db').request_id.tolist() == [r.json()['request_id']]
    assert c.get('/ready').status_code == 200
