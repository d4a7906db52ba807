"""Helpers for the API tests: free ports, a real `housing serve` process, and a small keep-alive HTTP client."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from itertools import cycle, islice
from pathlib import Path

import pytest

HOST = '127.0.0.1'
HOUSING = Path(sys.executable).parent/'housing'
API_ENV = ('HOUSING_API_KEY', 'HOUSING_ADMIN_TOKEN', 'HOUSING_MAX_BATCH', 'HOUSING_MAX_BODY_BYTES', 'HOUSING_MICROBATCH',
           'HOUSING_MICROBATCH_MAX_ROWS', 'HOUSING_MICROBATCH_WAIT_MS', 'HOUSING_MODEL_URI', 'HOUSING_PREDICTION_LOG',
           'HOUSING_MAX_IN_FLIGHT', 'HOUSING_REQUEST_TIMEOUT', 'HOUSING_LOG_RETENTION_DAYS', 'HOUSING_LOG_FULL_SYNC',
           'HOUSING_RELOAD_CHECK_SECONDS', 'HOUSING_SERVE_DIR', 'PROMETHEUS_MULTIPROC_DIR')


@pytest.fixture(autouse=True)
def clean_api_env(monkeypatch, tmp_path):
    "Each test starts from default API settings, with its own prediction log (autouse where a conftest imports it)"
    for k in API_ENV: monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv('HOUSING_PREDICTION_LOG', str(tmp_path/'default-log.db'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0)); return s.getsockname()[1]


def get_json(port: int, path: str, timeout: float = 5) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f'http://{HOST}:{port}{path}', timeout=timeout) as r:  # nosec B310: loopback
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e: return e.code, json.loads(e.read() or b'{}')


class Server:
    "`housing serve` on a loopback port, in its own process group"
    def __init__(self, store: dict, log: Path, *args: str, env: dict | None = None):
        self.port, self.log = free_port(), Path(log)
        self.out = self.log.with_suffix('.out')
        e = {k: v for k, v in os.environ.items() if k not in API_ENV}
        e.update(MLFLOW_TRACKING_URI=store['tracking_uri'], HOUSING_PREDICTION_LOG=str(self.log), PYTHONUNBUFFERED='1', **(env or {}))
        self.proc = subprocess.Popen([str(HOUSING), 'serve', '--port', str(self.port), *args], env=e,  # nosec B603
                                     stdout=open(self.out, 'w'), stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 400) -> dict:  # two workers each loading MLflow take minutes on a loaded machine
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f'housing serve exited with {self.proc.returncode}:\n{self.out.read_text()[-3000:]}')
            try:
                st, body = get_json(self.port, '/ready', 2)
                if st == 200: return body
            except OSError: pass
            time.sleep(0.3)
        raise TimeoutError(f'housing serve not ready after {timeout:.0f} s:\n{self.out.read_text()[-3000:]}')

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is not None: return
        try: os.killpg(self.proc.pid, sig)
        except ProcessLookupError: return
        try: self.proc.wait(20)
        except subprocess.TimeoutExpired: os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait(10)


def post_bytes(port: int, path: str, body: bytes, headers: dict | None = None) -> bytes:
    extra = ''.join(f'{k}: {v}\r\n' for k, v in (headers or {}).items())
    return (f'POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n{extra}'
            f'Content-Length: {len(body)}\r\n\r\n').encode() + body


async def _client(port: int, requests: list[bytes], out: list, deadline: float | None, backoff: float = 0):
    "One keep-alive connection sending `requests` in turn; appends (status, parsed body) per answer; waits `backoff` s after a 503"
    try: reader, writer = await asyncio.open_connection(HOST, port)
    except OSError as e:
        out.append((None, repr(e))); return
    try:
        for req in requests:
            if deadline is not None and time.monotonic() > deadline: break
            writer.write(req)
            head = await reader.readuntil(b'\r\n\r\n')
            status = int(head[9:12])
            length = 0
            for line in head.split(b'\r\n'):
                if line.lower().startswith(b'content-length:'): length = int(line.split(b':', 1)[1])
            body = await reader.readexactly(length)
            out.append((status, json.loads(body) if body else None))
            if status == 503 and backoff: await asyncio.sleep(backoff)
    except (ConnectionError, asyncio.IncompleteReadError) as e:
        out.append((None, repr(e)))
    finally:
        writer.close()


def requests_cycle(port: int, path: str, objs: list, n: int):
    "`n` requests posting `objs` in turn (built once, repeated lazily)"
    built = [post_bytes(port, path, json.dumps(o).encode()) for o in objs]
    return islice(cycle(built), n)


def hammer(port: int, per_client: list, seconds: float | None = None, timeout: float = 300, backoff: float = 0) -> list:
    "Run one client per list of requests concurrently; every answer as (status, body); `backoff`: seconds a client waits after a 503"
    async def run():
        outs = [[] for _ in per_client]
        deadline = time.monotonic() + seconds if seconds else None
        await asyncio.wait_for(asyncio.gather(*[_client(port, reqs, o, deadline, backoff) for reqs, o in zip(per_client, outs)]), timeout)
        return [x for o in outs for x in o]
    return asyncio.run(run())
