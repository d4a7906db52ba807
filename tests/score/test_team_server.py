"""From laptop to team server: MLflow on PostgreSQL with artifacts served by the server; train, promote, serve
and score through it with the `housing` command, as a team would."""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from score_support import HOUSING

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
INITDB = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'))
PASSWORD = 'team-secret'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600.0) -> None:  # MLflow migrates a new database first
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None: raise RuntimeError(f'exited with {proc.returncode} before {url} answered:\n{log.read_text()[-3000:]}')
        try:
            if httpx.get(url, timeout=2).status_code == 200: return
        except httpx.TransportError: pass
        time.sleep(0.5)
    raise TimeoutError(f'{url} did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}')


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try: proc.wait(timeout=20)
        except subprocess.TimeoutExpired: proc.kill(); proc.wait(timeout=10)


@pytest.fixture(scope='module')
def postgres():
    "Debian's PostgreSQL in a temporary data directory on a loopback port, run by an unprivileged user; yields its URI"
    if not INITDB: pytest.skip("PostgreSQL's server binaries are not installed: apt-get install postgresql (Debian), then rerun")
    pytest.importorskip('psycopg2', reason='MLflow needs a PostgreSQL driver: pip install psycopg2-binary')
    bindir = Path(INITDB[-1]).parent
    d = Path(tempfile.mkdtemp(prefix='housing-pg-'))
    as_user = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import pwd
        try: pw = pwd.getpwnam('postgres')
        except KeyError: pytest.skip('no postgres user to run the server as: apt-get install postgresql creates it')
        os.chown(d, pw.pw_uid, pw.pw_gid)
        as_user = ['runuser', '-u', 'postgres', '--']
    (d/'pw').write_text(PASSWORD)
    if as_user: os.chown(d/'pw', pw.pw_uid, pw.pw_gid)
    port = free_port()
    run = lambda *cmd: subprocess.run(as_user + [str(c) for c in cmd], check=True, capture_output=True, text=True, timeout=120)
    try:
        run(bindir/'initdb', '-D', d/'data', '-U', 'housing', f'--pwfile={d/"pw"}', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8')
        run(bindir/'pg_ctl', '-D', d/'data', '-l', d/'server.log', '-w', '-t', '120', '-o', f'-p {port} -k {d} -h 127.0.0.1 -c fsync=off', 'start')
        run(bindir/'createdb', '-h', d, '-p', port, '-U', 'housing', 'mlflow')
        yield f'postgresql+psycopg2://housing:{PASSWORD}@127.0.0.1:{port}/mlflow'  # SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3
    finally:
        subprocess.run(as_user + [str(bindir/'pg_ctl'), '-D', str(d/'data'), '-m', 'fast', '-w', 'stop'], capture_output=True, timeout=120)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope='module')
def tracking_server(postgres, tmp_path_factory):
    "`mlflow server` on the PostgreSQL store, serving artifacts itself; yields its URL"
    d = tmp_path_factory.mktemp('mlflow-server')
    port = free_port()
    log = d/'server.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([sys.executable, '-m', 'mlflow', 'server', '--backend-store-uri', postgres, '--serve-artifacts',
                                 '--artifacts-destination', str(d/'artifacts'), '--host', '127.0.0.1', '--port', str(port), '--workers', '1'],
                                stdout=out, stderr=subprocess.STDOUT, cwd=d,
                                env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION='false'))  # no job workers: tracking and registry only
    url = f'http://127.0.0.1:{port}'
    try:
        wait_http(f'{url}/health', proc, log)
        yield url
    finally: stop(proc)


@pytest.fixture(scope='module')
def team_env(tracking_server, tmp_path_factory):
    d = tmp_path_factory.mktemp('team')
    env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_server, HOUSING_PREDICTION_LOG=str(d/'predictions.db'))
    for k in ('HOUSING_MODEL_URI', 'HOUSING_API_KEY', 'HOUSING_EXPERIMENT'): env.pop(k, None)
    return env, d


def housing(env, *args, timeout=900):
    r = subprocess.run([str(HOUSING), *map(str, args)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    assert r.returncode == 0, f'housing {" ".join(map(str, args))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}'
    return r.stdout


def test_train_promote_serve_and_score_through_a_postgres_backed_server(team_env, tracking_server, score_frame_10k):
    import mlflow
    env, d = team_env
    out = housing(env, 'train', 'linear', '-p', 'cv_folds', '2', '-p', 'tracking_uri', tracking_server)
    assert 'linear: test RMSE' in out
    assert 'champion -> version 1 (linear' in housing(env, 'promote')
    client = mlflow.MlflowClient(tracking_server, tracking_server)
    mv = client.get_model_version_by_alias('california-housing', 'champion')
    assert mv.version == '1' and client.get_model_version_download_uri('california-housing', '1').startswith('mlflow-artifacts:')

    port = free_port()
    log = d/'serve.log'
    with open(log, 'w') as f:
        api = subprocess.Popen([str(HOUSING), 'serve', '--port', str(port)], env=env, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_http(f'http://127.0.0.1:{port}/ready', api, log)
        from housing.validation import EXAMPLE_ROW
        r = httpx.post(f'http://127.0.0.1:{port}/predict', json=EXAMPLE_ROW, timeout=30)
        assert r.status_code == 200, r.text
        served = r.json()
        assert served['model_version'] == '1' and 0 < served['prediction'] < 10
    finally: stop(api)

    score_frame_10k.iloc[:2000].to_parquet(d/'rows.parquet', index=False)
    out = housing(env, 'score', d/'rows.parquet', d/'preds.parquet')
    assert '2,000 rows read' in out and 'model version 1' in out and PASSWORD not in out
    preds = pd.read_parquet(d/'preds.parquet')
    assert len(preds) + len(pd.read_csv(d/'preds.rejects.csv')['row'].unique()) == 2000
    assert set(preds['model_version']) == {'1'}
    pd.DataFrame([EXAMPLE_ROW]).to_parquet(d/'one.parquet', index=False)
    housing(env, 'score', d/'one.parquet', d/'one-pred.parquet')
    assert pd.read_parquet(d/'one-pred.parquet')['prediction'].item() == pytest.approx(served['prediction'], abs=1e-9)
