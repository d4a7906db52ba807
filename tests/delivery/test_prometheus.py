"""Delivery test: a real Prometheus, configured from docker/prometheus.yml, scrapes `housing serve` and answers
queries about the traffic it saw. Needs the Debian `prometheus` package (.ci/run installs it)."""
import json
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import yaml

from delivery_support import DOCKER, Process, free_port, http, wait_for

PROMETHEUS = shutil.which('prometheus') or ('/usr/bin/prometheus' if Path('/usr/bin/prometheus').exists() else None)
PROMTOOL = shutil.which('promtool')
needs_prometheus = pytest.mark.skipif(PROMETHEUS is None, reason='prometheus binary absent: apt-get install -y prometheus (.ci/run does)')
ROW = dict(MedInc=3.5, HouseAge=20.0, AveRooms=5.2, AveBedrms=1.05, Population=1200.0, AveOccup=2.9, Latitude=34.05, Longitude=-118.25)
TRAFFIC = 25


def loopback_config(api_port: int, prometheus_port: int) -> dict:
    "docker/prometheus.yml with the API job aimed at a loopback port and a 1 s scrape interval"
    cfg = yaml.safe_load((DOCKER/'prometheus.yml').read_text())
    cfg['global'].update(scrape_interval='1s', evaluation_interval='1s', scrape_timeout='1s')
    for job in cfg['scrape_configs']:
        job.pop('scrape_interval', None); job.pop('scrape_timeout', None)
        target = f'127.0.0.1:{api_port}' if job['job_name'] == 'housing-api' else f'127.0.0.1:{prometheus_port}'
        for sc in job['static_configs']: sc['targets'] = [target]
    return cfg


def query(base: str, promql: str) -> list:
    status, body = http('GET', f'{base}/api/v1/query?query={urllib.parse.quote(promql)}')
    assert status == 200, body
    answer = json.loads(body)
    assert answer['status'] == 'success', answer
    return answer['data']['result']


def test_the_scrape_config_targets_the_api_metrics_endpoint():
    cfg = yaml.safe_load((DOCKER/'prometheus.yml').read_text())
    job = next(j for j in cfg['scrape_configs'] if j['job_name'] == 'housing-api')
    assert job.get('metrics_path', '/metrics') == '/metrics'
    assert job['static_configs'][0]['targets'] == ['api:8000']  # the compose service name and the API image's port


@pytest.mark.skipif(PROMTOOL is None, reason='promtool absent: apt-get install -y prometheus (.ci/run does)')
def test_promtool_accepts_the_scrape_config():
    r = subprocess.run([PROMTOOL, 'check', 'config', str(DOCKER/'prometheus.yml')], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


@needs_prometheus
def test_prometheus_scrapes_the_request_counter_from_a_running_api(api_server, tmp_path):
    api_url = api_server[0]
    api_port, port = int(api_url.rsplit(':', 1)[1]), free_port()
    config = tmp_path/'prometheus.yml'
    config.write_text(yaml.safe_dump(loopback_config(api_port, port)))
    proc = Process([PROMETHEUS, f'--config.file={config}', f'--storage.tsdb.path={tmp_path/"data"}',
                    f'--web.listen-address=127.0.0.1:{port}', '--log.level=warn'], {'PATH': '/usr/bin:/bin'},
                   tmp_path/'prometheus.log', cwd=tmp_path)
    base = f'http://127.0.0.1:{port}'
    try:
        wait_for(f'{base}/-/ready', proc, timeout=60)
        for _ in range(TRAFFIC):
            status, body = http('POST', f'{api_url}/predict', ROW)
            assert status == 200, body
        # what the API itself counts, then what Prometheus has scraped: equal once a scrape after the traffic landed
        api_total = sum(float(line.rsplit(' ', 1)[1]) for line in http('GET', f'{api_url}/metrics')[1].splitlines()
                        if line.startswith('housing_requests_total{'))
        deadline, result = time.monotonic() + 45, []
        while time.monotonic() < deadline:
            result = query(base, 'sum(housing_requests_total)')
            if result and float(result[0]['value'][1]) >= api_total: break
            time.sleep(0.5)
        print(f'\nPrometheus {base}/api/v1/query?query=sum(housing_requests_total) -> {json.dumps(result)}')
        by_route = query(base, 'sum by (route, status) (housing_requests_total)')
        print('sum by (route, status) (housing_requests_total) ->', json.dumps([(r['metric'], r['value'][1]) for r in by_route]))
        assert result, f'no housing_requests_total in Prometheus after 45 s; targets: {http("GET", f"{base}/api/v1/targets")[1][:2000]}'
        assert float(result[0]['value'][1]) >= api_total >= TRAFFIC
        predict_ok = [r for r in by_route if r['metric'] == {'route': '/predict', 'status': '200'}]
        assert predict_ok and float(predict_ok[0]['value'][1]) >= TRAFFIC
        up = query(base, 'up{job="housing-api"}')
        assert up and up[0]['value'][1] == '1' and up[0]['metric']['service'] == 'api'
    finally: proc.stop()
