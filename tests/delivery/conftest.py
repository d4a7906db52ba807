"""Delivery fixtures: the images' entry commands run as plain processes on loopback ports, against the test store."""
import pytest

from delivery_support import DOCKER, Process, container_env, free_port, image_config, loopback_command, start_api, wait_for


@pytest.fixture(scope='session')
def exported_model(trained_store, tmp_path_factory):
    "The champion exported as `housing export-model` does before an `api-baked` build"
    from housing.tracking import export_model
    return export_model(trained_store['model_uri'], tmp_path_factory.mktemp('export')/'model', trained_store['tracking_uri'])


@pytest.fixture(scope='session')
def mlflow_server(trained_store, tmp_path_factory):
    "docker/Dockerfile.mlflow's command with /mlflow mapped to the test store's folder: (base URL, Process)"
    image = image_config(DOCKER/'Dockerfile.mlflow')
    port = free_port()
    root = trained_store['root']  # holds mlflow.db, as /mlflow does in the container
    cmd = [a.replace('/mlflow/', f'{root}/') for a in loopback_command(image.cmd, port)]
    log = tmp_path_factory.mktemp('logs')/'mlflow.log'
    proc = Process(cmd, container_env(image, {'/mlflow': root}), log, cwd=root)
    try:
        wait_for(f'http://127.0.0.1:{port}/health', proc, timeout=90)
        yield f'http://127.0.0.1:{port}', proc
    finally: proc.stop()


@pytest.fixture(scope='session')
def api_server(mlflow_server, tmp_path_factory):
    "The API as compose runs it: model resolved at run time from the mlflow service's registry"
    mlflow_url, _ = mlflow_server
    url, proc, image, env = start_api(tmp_path_factory, 'api', {}, {'MLFLOW_TRACKING_URI': mlflow_url}, 'api')
    yield url, proc, image, env
    proc.stop()
