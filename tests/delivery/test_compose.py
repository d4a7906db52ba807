"""Delivery tests: docker-compose.yml is a valid Compose file wiring postgres, mlflow, api, dashboard and prometheus together.

`docker compose config` needs the compose plugin, which this machine's Docker client lacks (and there is no engine):
the file is checked against the Compose Specification's JSON schema (check-jsonschema's vendored copy, offline)
and its structure is checked here, against the Dockerfiles it builds."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from delivery_support import COMPOSE, ROOT, compose, image_config

SERVICES = {'postgres', 'mlflow', 'api', 'dashboard', 'prometheus'}
CONDITIONS = {'service_started', 'service_healthy', 'service_completed_successfully'}
CHECK_JSONSCHEMA = shutil.which('check-jsonschema') or str(Path(sys.executable).parent/'check-jsonschema')


def _docker_compose_works() -> bool:
    docker = shutil.which('docker')
    if not docker: return False
    return subprocess.run([docker, 'compose', 'version'], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not Path(CHECK_JSONSCHEMA).exists(), reason='check-jsonschema is not installed (dev requirement)')
def test_compose_file_matches_the_compose_specification_schema():
    r = subprocess.run([CHECK_JSONSCHEMA, '--builtin-schema', 'vendor.compose-spec', str(COMPOSE)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(not _docker_compose_works(), reason='`docker compose` (the compose plugin) is not installed on this machine')
def test_docker_compose_config_accepts_the_file():
    r = subprocess.run(['docker', 'compose', '-f', str(COMPOSE), 'config', '--quiet'], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_the_stack_has_the_four_services_each_restarted_and_health_checked():
    services = compose()['services']
    assert SERVICES <= set(services)
    for name in SERVICES:
        s = services[name]
        assert s.get('restart') in ('always', 'unless-stopped', 'on-failure'), f'{name}: restart policy'
        hc = s.get('healthcheck', {})
        assert hc.get('test') and hc['test'][0] == 'CMD' and hc.get('interval') and hc.get('retries'), f'{name}: healthcheck'


def test_dependencies_start_in_order_with_conditions():
    services = compose()['services']
    for name, s in services.items():
        for dep, spec in (s.get('depends_on') or {}).items():
            assert dep in services, f'{name} depends on unknown service {dep}'
            assert spec.get('condition') in CONDITIONS, f'{name} -> {dep}: a condition'
    assert services['mlflow']['depends_on']['postgres']['condition'] == 'service_healthy'
    assert services['api']['depends_on']['mlflow']['condition'] == 'service_healthy'
    assert services['dashboard']['depends_on']['mlflow']['condition'] == 'service_healthy'
    assert 'api' in services['dashboard']['depends_on'] and 'api' in services['prometheus']['depends_on']


def test_logs_and_reports_live_on_named_volumes_where_the_images_write_them():
    c = compose()
    api_env = image_config(ROOT/'docker'/'Dockerfile.api').env
    mounts = {name: dict(v.split(':')[:2][::-1] for v in s.get('volumes', []) if not v.startswith(('.', '$'))) for name, s in c['services'].items()}
    assert mounts['api']['/app/logs'] == 'logs' and mounts['dashboard']['/app/logs'] == 'logs'
    assert mounts['dashboard']['/app/reports'] == 'reports' and mounts['mlflow']['/mlflow'] == 'mlflow-store'
    assert mounts['postgres']['/var/lib/postgresql/data'] == 'postgres-data'
    assert {'logs', 'reports', 'mlflow-store', 'postgres-data'} <= set(c['volumes'])
    log = c['services']['api']['environment']['HOUSING_PREDICTION_LOG']
    assert log == api_env['HOUSING_PREDICTION_LOG'] and log.startswith('/app/logs/')
    assert c['services']['dashboard']['environment']['HOUSING_PREDICTION_LOG'] == log  # the dashboard reads what the API writes


def test_built_services_use_the_docker_files_and_their_healthchecks():
    services = compose()['services']
    for name, s in services.items():
        if 'build' not in s: continue
        dockerfile = ROOT/s['build']['dockerfile']
        assert s['build']['context'] == '.' and dockerfile.exists(), name
        image = image_config(dockerfile, s['build'].get('target'))
        if name in SERVICES:  # the compose healthcheck is the image's own HEALTHCHECK, stated where `compose config` shows it
            assert s['healthcheck']['test'] == ['CMD', *image.healthcheck['cmd']], name


def test_services_reach_each_other_by_service_name_and_publish_on_loopback_only():
    c = compose()
    s = c['services']
    assert s['api']['environment']['MLFLOW_TRACKING_URI'] == 'http://mlflow:5000'
    allowed = image_config(ROOT/'docker'/'Dockerfile.mlflow').cmd
    assert 'mlflow:5000' in allowed[allowed.index('--allowed-hosts') + 1].split(',')  # MLflow 3 checks the Host header
    for name, svc in s.items():
        for p in svc.get('ports', []):
            assert str(p).startswith('127.0.0.1:'), f'{name} publishes {p} on every interface'
    assert './docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro' in s['prometheus']['volumes']


SECRET_REF = r'\$\{[A-Z_]+(:-|:\?[^}]*)?\}'  # ${VAR}, ${VAR:-} or ${VAR:?message}: from the environment


def test_no_secret_values_in_the_compose_file():
    for name, svc in compose()['services'].items():
        for k, v in (svc.get('environment') or {}).items():
            if re.search(r'KEY|TOKEN|SECRET|PASSWORD', k):
                assert re.fullmatch(SECRET_REF, str(v)), f'{name}.{k} must come from the environment, not the file'
            if re.search(r'://[^/@\s]+:[^/@\s]+@', str(v)):  # credentials inside a URL: the password part too
                assert re.search(r'://[^/@\s:]+:' + SECRET_REF + '@', str(v)), f'{name}.{k}: a password in the file'


def test_mlflow_keeps_its_registry_in_postgres_and_the_admin_token_is_required():
    s = compose()['services']
    uri = s['mlflow']['environment']['MLFLOW_BACKEND_STORE_URI']
    assert re.fullmatch(r'postgresql\+psycopg2://mlflow:\$\{HOUSING_POSTGRES_PASSWORD:\?[^}]*\}@postgres:5432/mlflow', uri), uri
    assert s['postgres']['environment']['POSTGRES_PASSWORD'].startswith('${HOUSING_POSTGRES_PASSWORD:?')
    # the admin routes (/model/reload) are open when HOUSING_ADMIN_TOKEN is empty: `up` refuses to start without it
    assert s['api']['environment']['HOUSING_ADMIN_TOKEN'].startswith('${HOUSING_ADMIN_TOKEN:?')


def test_the_api_runs_two_workers_and_the_dashboard_calls_it_with_the_key():
    s = compose()['services']
    cmd = s['api']['command']
    assert cmd[:2] == ['housing', 'serve'] and cmd[cmd.index('--workers') + 1] == '2'
    assert cmd[cmd.index('--port') + 1] == image_config(ROOT/'docker'/'Dockerfile.api', 'api').expose[0]
    env = s['dashboard']['environment']
    assert env['HOUSING_API_URL'] == 'http://api:8000' and env['HOUSING_API_KEY'] == s['api']['environment']['HOUSING_API_KEY']


def test_host_ports_are_configurable():
    for name, svc in compose()['services'].items():
        for p in svc.get('ports', []):
            assert re.fullmatch(r'127\.0\.0\.1:\$\{HOUSING_[A-Z]+_PORT:-\d+\}:\d+', str(p)), f'{name}: {p}'


def test_the_train_job_trains_the_configured_models_then_promotes_from_the_mounted_data():
    t = compose()['services']['train']
    assert t['profiles'] == ['train'] and t['restart'] == 'no'
    script = ' '.join(t['command'])
    assert 'housing train' in script and script.rstrip().endswith('housing promote') and 'HOUSING_TRAIN_MODELS' in script
    assert t['environment']['HOUSING_TRAIN_MODELS'] == '${HOUSING_TRAIN_MODELS:-linear}'
    assert t['environment']['MLFLOW_TRACKING_URI'] == 'http://mlflow:5000'
    assert any(v.endswith(':' + t['environment']['HOUSING_RAW_DATA'] + ':ro') for v in t['volumes'])
