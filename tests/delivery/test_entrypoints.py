"""Delivery tests: each image's entry command, run as a plain process on a loopback port, does its job.

There is no container engine here, so the images' CMD, ENV and HEALTHCHECK are read from the Dockerfiles and run
with the container paths mapped to temporary folders (/app -> tmp, /opt/venv -> this venv, /mlflow -> the test store)."""
import importlib.util
import json
from pathlib import Path

import pytest

from delivery_support import DOCKER, Process, container_env, free_port, http, image_config, loopback_command, run_healthcheck, start_api, wait_for

ROW = dict(MedInc=8.3252, HouseAge=41.0, AveRooms=6.98, AveBedrms=1.02, Population=322.0, AveOccup=2.56,
           Latitude=37.88, Longitude=-122.23)


def test_mlflow_command_serves_the_registry_to_the_compose_hostnames(mlflow_server, trained_store):
    url, _ = mlflow_server
    assert http('GET', f'{url}/health') == (200, 'OK')
    alias = f'{url}/api/2.0/mlflow/registered-models/alias?name=california-housing&alias=champion'
    status, body = http('GET', alias, headers={'Host': 'mlflow:5000'})  # how the api and dashboard services reach it
    assert status == 200, body
    assert json.loads(body)['model_version']['version'] == str(trained_store['version'])
    assert http('GET', alias, headers={'Host': 'localhost:5000'})[0] == 200  # a browser on the published port
    assert http('GET', alias, headers={'Host': 'attacker.example:5000'})[0] in (400, 403)  # DNS rebinding is refused


def test_mlflow_server_proxies_artifacts_into_its_store(mlflow_server, trained_store, tmp_path):
    "What `housing pipeline` against the compose server relies on: clients upload and download through the server"
    import mlflow
    url, _ = mlflow_server
    client = mlflow.MlflowClient(url, url)
    exp = client.create_experiment('delivery-artifact-proxy')
    assert client.get_experiment(exp).artifact_location.startswith('mlflow-artifacts:')
    run = client.create_run(exp)
    client.log_text(run.info.run_id, 'proxied', 'check.txt')
    client.set_terminated(run.info.run_id)
    stored = list((trained_store['root']/'artifacts').rglob('check.txt'))  # --artifacts-destination, i.e. /mlflow/artifacts
    assert len(stored) == 1 and stored[0].read_text() == 'proxied'
    back = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path='check.txt', dst_path=str(tmp_path), tracking_uri=url)
    assert Path(back).read_text() == 'proxied'


def test_mlflow_healthcheck_command_passes(mlflow_server):
    url, _ = mlflow_server
    image = image_config(DOCKER/'Dockerfile.mlflow')
    assert run_healthcheck(image, int(url.rsplit(':', 1)[1]), container_env(image, {})) == 0


def test_api_command_serves_the_champion_from_the_registry(api_server, trained_store):
    url, _, image, _ = api_server
    status, body = http('GET', f'{url}/ready')
    assert status == 200 and json.loads(body)['model_version'] == str(trained_store['version']), body
    status, body = http('POST', f'{url}/predict', ROW)
    assert status == 200, body
    assert 0.1 < json.loads(body)['prediction'] < 6
    status, metrics = http('GET', f'{url}/metrics')
    assert status == 200 and 'housing_requests_total{route="/predict",status="200"}' in metrics
    assert run_healthcheck(image, int(url.rsplit(':', 1)[1]), api_server[3]) == 0


def test_api_healthcheck_fails_while_no_model_is_loaded(tmp_path_factory, tmp_path):
    url, proc, image, env = start_api(tmp_path_factory, 'api', {}, {'HOUSING_MODEL_URI': str(tmp_path/'no-model')}, 'api-nomodel', ready=False)
    try:
        status, body = http('GET', f'{url}/ready')
        assert status == 503 and 'no model loaded' in json.loads(body)['detail'], body
        assert http('GET', f'{url}/health')[0] == 200  # alive, so the container is not restarted in a loop
        assert run_healthcheck(image, int(url.rsplit(':', 1)[1]), env) != 0
    finally: proc.stop()


def test_api_baked_image_serves_the_exported_model_with_its_provenance_and_keys(exported_model, api_server, trained_store, tmp_path_factory):
    secrets = {'HOUSING_API_KEY': 'test-key-not-a-secret', 'HOUSING_ADMIN_TOKEN': 'test-token-not-a-secret'}
    url, proc, image, env = start_api(tmp_path_factory, 'api-baked', {'/opt/housing/model': exported_model}, secrets, 'api-baked')
    try:
        assert env['HOUSING_MODEL_URI'] == str(exported_model) and 'MLFLOW_TRACKING_URI' not in env
        assert not (Path(env['HOUSING_HOME'])/'mlflow.db').exists(), 'loading a model directory must not create a tracking store'
        status, body = http('GET', f'{url}/model/info')
        info = json.loads(body)
        assert status == 200 and info['version'] == str(trained_store['version']) and info['run_id'] == trained_store['run_id'], body
        assert http('POST', f'{url}/predict', ROW)[0] == 401
        status, body = http('POST', f'{url}/predict', ROW, headers={'X-API-Key': secrets['HOUSING_API_KEY']})
        assert status == 200, body
        same = http('POST', f'{api_server[0]}/predict', ROW)[1]  # the registry-served champion
        assert json.loads(body)['prediction'] == json.loads(same)['prediction']
        assert http('POST', f'{url}/model/reload')[0] == 401
        assert http('GET', f'{url}/metrics')[0] == 200  # Prometheus scrapes without credentials
    finally: proc.stop()


@pytest.mark.skipif(importlib.util.find_spec('housing.dashboard') is None, reason='housing.dashboard is not exported yet (nbs/ dashboard notebook)')
def test_dashboard_command_answers_its_health_probe(tmp_path):
    image = image_config(DOCKER/'Dockerfile.ui')
    assert image.cmd[image.cmd.index('--host') + 1] == '0.0.0.0'  # reachable through the published port
    (tmp_path/'logs').mkdir()
    port = free_port()
    env = container_env(image, {'/app': tmp_path})
    proc = Process(loopback_command(image.cmd, port), env, tmp_path/'dashboard.log', cwd=tmp_path)
    try:
        assert wait_for(f'http://127.0.0.1:{port}/_stcore/health', proc, timeout=90)[1] == 'ok'
        assert run_healthcheck(image, port, env) == 0
    finally: proc.stop()
