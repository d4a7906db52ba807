"""Delivery tests: docker-compose.yml is a valid Compose file wiring mlflow, api, dashboard and prometheus together.

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

SERVICES = {'mlflow', 'api', 'dashboard', 'prometheus'}
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
    assert services['api']['depends_on']['mlflow']['condition'] == 'service_healthy'
    assert services['dashboard']['depends_on']['mlflow']['condition'] == 'service_healthy'
    assert 'api' in services['dashboard']['depends_on'] and 'api' in services['prometheus']['depends_on']


def test_logs_and_reports_live_on_named_volumes_where_the_images_write_them():
    c = compose()
    api_env = image_config(ROOT/'docker'/'Dockerfile.api').env
    mounts = {name: dict(v.split(':')[:2][::-1] for v in s.get('volumes', []) if not v.startswith(('.', '$'))) for name, s in c['services'].items()}
    assert mounts['api']['/app/logs'] == 'logs' and mounts['dashboard']['/app/logs'] == 'logs'
    assert mounts['dashboard']['/app/reports'] == 'reports' and mounts['mlflow']['/mlflow'] == 'mlflow-store'
    assert {'logs', 'reports', 'mlflow-store'} <= set(c['volumes'])
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


def test_no_secret_values_in_the_compose_file():
    for name, svc in compose()['services'].items():
        for k, v in (svc.get('environment') or {}).items():
            if re.search(r'KEY|TOKEN|SECRET|PASSWORD', k):
                assert re.fullmatch(r'\$\{[A-Z_]+(:-)?\}', str(v)), f'{name}.{k} must come from the environment, not the file'
