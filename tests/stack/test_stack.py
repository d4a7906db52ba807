"""The compose stack for real: the images built from docker/, started by podman-compose, checked from outside.

Run by `make stack-test` (docker/stack_test.sh builds the images, starts postgres -> mlflow -> the rest, then runs this
file with HOUSING_STACK_TEST=1 and tears everything down). The tests run in file order and each step builds on the
one before: healthy services, the `train` job, the API picking the champion up, predictions through the published
port and from the dashboard's container, Prometheus, MLflow, a killed API process, and `down` + `up`.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(os.environ.get('HOUSING_STACK_TEST') != '1',
                                reason='the compose stack is not up: `make stack-test` builds and starts it and runs these '
                                       'tests (HOUSING_STACK_TEST=1; needs root for podman)')
ENV = os.environ
PROJECT = ENV.get('HOUSING_STACK_PROJECT', 'housing-stacktest')
SCRIPT = ENV.get('HOUSING_STACK_SCRIPT', str(ROOT/'docker'/'stack_test.sh'))
MODEL_NAME = 'california-housing'
ROW = dict(MedInc=8.3252, HouseAge=41.0, AveRooms=6.98, AveBedrms=1.02, Population=322.0, AveOccup=2.56,
           Latitude=37.88, Longitude=-122.23)
TRAFFIC = 40  # predictions sent through the published port before the Prometheus check


def port(service: str) -> int: return int(ENV[f'HOUSING_{service.upper()}_PORT'])


def url(service: str, path: str) -> str: return f'http://127.0.0.1:{port(service)}{path}'


def http(method: str, address: str, body=None, headers: dict | None = None, timeout: float = 10) -> tuple[int, str]:
    "(status, text); HTTP errors are answers, not exceptions"
    assert address.startswith('http://127.0.0.1:'), address
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(address, data=data, method=method, headers={'Content-Type': 'application/json', **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, e.read().decode()


def api_headers() -> dict: return {'X-API-Key': ENV['HOUSING_API_KEY']}


def script(*args: str, timeout: float = 900) -> str:
    r = subprocess.run(['bash', SCRIPT, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert r.returncode == 0, f'{SCRIPT} {" ".join(args)} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}'
    return r.stdout


def podman(*args: str, timeout: float = 120, check: bool = True) -> str:
    r = subprocess.run(['podman', *args], capture_output=True, text=True, timeout=timeout)
    if check: assert r.returncode == 0, f'podman {" ".join(args)}: {r.stderr[-2000:]}'
    return r.stdout.strip()


def container(service: str) -> str:
    ids = podman('ps', '-a', '-q', '--filter', f'label=io.podman.compose.project={PROJECT}',
                 '--filter', f'label=com.docker.compose.service={service}').split()
    assert ids, f'no container for service {service} in project {PROJECT}'
    return ids[0]


def state(service: str) -> dict:
    return json.loads(podman('inspect', '--format', '{{json .State}}', container(service)))


def health(service: str) -> str:
    "The container's health after running its check now (no systemd here to run it on a timer)"
    c = container(service)
    podman('healthcheck', 'run', c, check=False)
    return podman('inspect', '--format', '{{.State.Health.Status}}', c)


def wait(what: str, fn, timeout: float, every: float = 2.0):
    "fn() until it is truthy (bounded); its last value in the failure message"
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last: return last
        except (OSError, AssertionError, ValueError, KeyError) as e: last = repr(e)
        time.sleep(every)
    raise AssertionError(f'{what}: not within {timeout:.0f} s (last: {last})')


def exec_python(service: str, code: str, timeout: float = 60) -> str:
    return podman('exec', container(service), 'python', '-c', code, timeout=timeout)


def logged_rows() -> int:
    "Rows in the API's prediction log (SQLite on the `logs` volume), read inside the API container"
    return int(exec_python('api', "import sqlite3; c = sqlite3.connect('/app/logs/predictions.db', timeout=30); "
                                  "print(c.execute('SELECT count(*) FROM predictions').fetchone()[0])"))


def settled_rows() -> int:
    "The log's row count once the API's group commits have landed (two equal readings a second apart)"
    def same():
        a = logged_rows(); time.sleep(1.0); b = logged_rows()
        return (a,) if a == b else None
    return wait('prediction log settles', same, 30, every=0.5)[0]


def prometheus(promql: str) -> list:
    status, body = http('GET', url('prometheus', f'/api/v1/query?query={urllib.parse.quote(promql)}'))
    assert status == 200, body
    answer = json.loads(body)
    assert answer['status'] == 'success', answer
    return answer['data']['result']


def mlflow_get(path: str, **params) -> dict:
    status, body = http('GET', url('mlflow', path + ('?' + urllib.parse.urlencode(params) if params else '')))
    assert status == 200, f'{path}: {status} {body[:500]}'
    return json.loads(body)


def registry_state() -> dict:
    "The champion's version and run, and every run id, as the stack's MLflow server lists them"
    alias = mlflow_get('/api/2.0/mlflow/registered-models/alias', name=MODEL_NAME, alias='champion')['model_version']
    exps = [e['experiment_id'] for e in mlflow_get('/api/2.0/mlflow/experiments/search', max_results=1000)['experiments']]
    status, body = http('POST', url('mlflow', '/api/2.0/mlflow/runs/search'), {'experiment_ids': exps, 'max_results': 1000})
    assert status == 200, body
    runs = sorted(r['info']['run_id'] for r in json.loads(body).get('runs', []))
    return {'champion_version': alias['version'], 'champion_run': alias['run_id'], 'runs': runs}


def ready_everywhere(n: int = 12) -> bool:
    "/ready is 200 on n requests in a row (two workers: each answers some of them)"
    return all(http('GET', url('api', '/ready'))[0] == 200 for _ in range(n))


def wait_api_ready(timeout: float = 600):
    "Both workers ready: the API image has no .pyc files (size), so on a busy 2-core machine a start can take minutes"
    wait('API /ready 200 on every worker', ready_everywhere, timeout)
    wait('api healthy', lambda: health('api') == 'healthy', 60)


# ---- the steps, in order ------------------------------------------------------------------------------------------

def test_every_service_is_up_and_healthy_and_the_api_waits_for_a_model():
    for svc in ('postgres', 'mlflow', 'dashboard', 'prometheus'):
        assert wait(f'{svc} healthy', lambda s=svc: health(s) == 'healthy', 120), svc
    assert http('GET', url('mlflow', '/health')) == (200, 'OK')
    assert http('GET', url('prometheus', '/-/ready'))[0] == 200
    assert http('GET', url('dashboard', '/_stcore/health'))[0] == 200
    # no champion yet: alive, not ready (its health check fails), and the restart policy leaves it be
    status, body = wait('API /health', lambda: http('GET', url('api', '/health')), 120)
    assert status == 200 and json.loads(body)['model_loaded'] is False, body
    status, body = http('GET', url('api', '/ready'))
    assert status == 503 and 'no model' in json.loads(body)['detail'], body
    assert state('api')['Status'] == 'running'


def test_admin_routes_need_the_token():
    status, body = http('POST', url('api', '/model/reload'))
    assert status == 401, f'/model/reload without a token answered {status}: {body}'
    status, body = http('POST', url('api', '/model/reload'), headers={'Authorization': 'Bearer wrong-token-for-the-test'})
    assert status == 401, body


def test_the_train_job_trains_and_promotes_into_the_stacks_mlflow():
    out = script('train', timeout=1200)
    print(out[-1500:])
    state_ = registry_state()
    models = ENV.get('HOUSING_TRAIN_MODELS', 'linear').split()
    assert len(state_['runs']) >= len(models), state_
    assert state_['champion_run'] in state_['runs'], state_
    # the artifacts went through the server's proxy into its store (the mlflow-store volume)
    listed = podman('exec', container('mlflow'), 'find', '/mlflow/artifacts', '-name', 'MLmodel')
    assert listed, 'no model artifacts under /mlflow/artifacts in the mlflow container'


def test_the_api_picks_the_champion_up_with_the_admin_token_then_on_restart():
    champion = registry_state()['champion_version']
    token = {'Authorization': f'Bearer {ENV["HOUSING_ADMIN_TOKEN"]}'}
    status, body = http('POST', url('api', '/model/reload'), headers=token, timeout=120)
    assert status == 200 and json.loads(body)['version'] == champion, body
    # reload swaps the model in the worker that answered; a restart loads it in both
    podman('restart', '--time', '20', container('api'), timeout=180)
    wait_api_ready()
    status, body = http('GET', url('api', '/ready'))
    assert json.loads(body)['model_version'] == champion, body


def test_predictions_through_the_published_port_need_the_key():
    assert http('POST', url('api', '/predict'), ROW)[0] == 401  # HOUSING_API_KEY is set in the stack
    for _ in range(TRAFFIC):
        status, body = http('POST', url('api', '/predict'), ROW, headers=api_headers())
        assert status == 200, body
    assert 0.1 < json.loads(body)['prediction'] < 6, body


def test_the_dashboard_reaches_the_api_from_its_own_container():
    code = ("import json; from housing.dashboard import api_url, predict_via_api; "
            f"print(json.dumps(dict(url=api_url(), **predict_via_api({ROW!r}))))")
    answer = json.loads(exec_python('dashboard', code).splitlines()[-1])
    assert answer['url'] == 'http://api:8000', answer
    assert answer['ok'] is True and 0.1 < answer['prediction'] < 6, answer


def test_prometheus_scrapes_the_api_and_counts_every_prediction():
    up = wait('Prometheus: up{job="housing-api"} == 1',
              lambda: [r for r in prometheus('up{job="housing-api"}') if r['value'][1] == '1'], 60)
    assert up[0]['metric']['service'] == 'api'
    # every /predict request since the last API restart: the 40 above (401s are counted apart), and the dashboard's one
    want = TRAFFIC + 1
    promql = 'sum(housing_requests_total{route="/predict",status="200"})'
    # two uvicorn workers: `housing serve` runs them in prometheus_client's multiprocess mode (it sets
    # PROMETHEUS_MULTIPROC_DIR for them), so whichever worker answers a scrape reports the sum over both
    got = wait(f'Prometheus: {promql} == {want}',
               lambda: (lambda r: r and float(r[0]['value'][1]) == want and r)(prometheus(promql)), 75)
    print(f'\n{promql} -> {got}')


def test_the_mlflow_server_lists_the_runs_and_the_champion_alias():
    s = registry_state()
    assert s['runs'] and s['champion_version']
    status, body = http('GET', url('mlflow', '/api/2.0/mlflow/registered-models/get?name=' + MODEL_NAME))
    assert status == 200 and any(a['alias'] == 'champion' for a in json.loads(body)['registered_model'].get('aliases', [])), body
    # the backend store is the PostgreSQL service, not a file in the mlflow container
    env = podman('inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', container('mlflow'))
    assert 'MLFLOW_BACKEND_STORE_URI=postgresql+psycopg2://' in env
    tables = podman('exec', container('postgres'), 'psql', '-U', 'mlflow', '-d', 'mlflow', '-tAc',
                    "SELECT count(*) FROM model_versions WHERE name = 'california-housing'")
    assert int(tables) >= 1, tables


def test_killing_the_api_process_restarts_the_container_with_the_log_intact():
    before_rows, before = settled_rows(), state('api')
    assert before_rows >= TRAFFIC + 1, before_rows
    # the main process is `housing serve` (uvicorn's supervisor is its child, the workers theirs): the child of the
    # container's init (PID 1, podman's catatonit from `init: true`). PID 1 itself must not be the target: the kernel
    # ignores a SIGKILL sent to a namespace's init from inside it. When the init's child dies, the init exits (even with
    # orphaned workers left) and so does the container, and the restart policy (`podman run --restart unless-stopped`,
    # which podman-compose passes on; conmon's exit command applies it, no systemd needed) starts it again.
    kill = ("import os, signal\n"
            "def ppid(p): return int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])\n"
            "main = [int(p) for p in os.listdir('/proc') if p.isdigit() and p != '1' and ppid(p) == 1]\n"
            "cmd = open(f'/proc/{main[0]}/cmdline', 'rb').read().split(b'\\0')\n"
            "assert len(main) == 1 and any(a.endswith(b'housing') for a in cmd) and b'serve' in cmd, (main, cmd)\n"
            "os.kill(main[0], signal.SIGKILL); print(main[0], b' '.join(cmd).decode())")
    print('\nkilled', exec_python('api', kill))
    wait('the api container restarted',
         lambda: state('api')['StartedAt'] != before['StartedAt'] and state('api')['Status'] == 'running', 90)
    wait_api_ready()
    assert settled_rows() == before_rows
    status, body = http('POST', url('api', '/predict'), ROW, headers=api_headers())
    assert status == 200, body
    assert wait('the new row is logged', lambda: logged_rows() == before_rows + 1, 30)


def test_down_then_up_keeps_the_prediction_log_and_the_registry():
    rows, registry = settled_rows(), registry_state()
    script('stop', timeout=300)
    assert not podman('ps', '-q', '--filter', f'label=io.podman.compose.project={PROJECT}')
    script('start', timeout=900)
    wait_api_ready()  # the champion is loaded at start, from the registry that survived
    assert registry_state() == registry
    assert settled_rows() == rows
    status, body = http('GET', url('api', '/ready'))
    assert json.loads(body)['model_version'] == registry['champion_version'], body
    status, body = http('POST', url('api', '/predict'), ROW, headers=api_headers())
    assert status == 200, body


def test_the_api_image_is_lean_and_every_service_runs_as_non_root():
    size = int(podman('image', 'inspect', '--format', '{{.Size}}', podman('inspect', '--format', '{{.ImageName}}', container('api'))))
    print(f'\napi image: {size / 1e6:.0f} MB')
    assert size <= 1.5e9, f'the API image is {size / 1e9:.2f} GB (at most 1.5 GB)'
    missing = exec_python('api', "import importlib.util as u; print([m for m in ('streamlit', 'jupyterlab', 'notebook', "
                                 "'jupyter_server', 'ipykernel', 'papermill', 'nbconvert') if u.find_spec(m)])")
    assert missing == '[]', f'the API image carries {missing}'
    for svc in ('postgres', 'mlflow', 'api', 'dashboard', 'prometheus'):
        uid = podman('exec', container(svc), 'id', '-u')
        assert uid != '0', f'{svc} runs as root'
