"""Delivery tests: the GitHub Actions workflow and the pre-commit hooks do what .ci/run and the Makefile do.

GitHub itself is out of reach: the workflow is checked against the vendored GitHub-workflow JSON schema
(check-jsonschema, offline) and for the jobs the project relies on."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from delivery_support import ROOT

WORKFLOW = ROOT/'.github'/'workflows'/'ci.yml'
BIN = Path(sys.executable).parent
CHECK_JSONSCHEMA = shutil.which('check-jsonschema') or str(BIN/'check-jsonschema')
PRE_COMMIT = shutil.which('pre-commit') or str(BIN/'pre-commit')


def _workflow() -> dict:
    wf = yaml.safe_load(WORKFLOW.read_text())
    wf['on'] = wf.pop(True, wf.get('on'))  # YAML 1.1 reads the key `on` as True
    return wf


def _runs(job: dict) -> str:
    return '\n'.join(s.get('run', '') for s in job['steps'])


@pytest.mark.skipif(not Path(CHECK_JSONSCHEMA).exists(), reason='check-jsonschema is not installed (dev requirement)')
@pytest.mark.parametrize('path,schema', [(WORKFLOW, 'vendor.github-workflows'), (ROOT/'.github'/'actions'/'raw-data'/'action.yml', 'vendor.github-actions')])
def test_workflow_files_match_githubs_schemas(path, schema):
    r = subprocess.run([CHECK_JSONSCHEMA, '--builtin-schema', schema, str(path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ci_runs_lint_security_and_tests_through_the_makefile():
    jobs = _workflow()['jobs']
    assert 'make lint' in _runs(jobs['lint'])
    assert 'make security' in _runs(jobs['security'])
    assert re.search(r'make test\b|make test-notebooks test-py', _runs(jobs['test']))
    assert 'apt-get install' in _runs(jobs['test']) and 'prometheus' in _runs(jobs['test'])  # the real scrape test runs, not skips
    targets = set(re.findall(r'^([a-zA-Z_-]+):', (ROOT/'Makefile').read_text(), re.M))
    called = {word for job in jobs.values() for words in re.findall(r'\bmake ([a-z-]+(?: [a-z-]+)*)', _runs(job)) for word in words.split()}
    assert called <= targets, f'the workflow calls make targets the Makefile lacks: {sorted(called - targets)}'


def test_images_are_built_after_the_checks_and_pushed_only_from_main_to_the_configured_registry():
    jobs = _workflow()['jobs']
    images = jobs['images']
    assert set(images['needs']) == {'lint', 'security', 'test'}
    built = {(m['dockerfile'], m['target']) for m in images['strategy']['matrix']['include']}
    assert built == {('docker/Dockerfile.api', 'api'), ('docker/Dockerfile.ui', 'dashboard'), ('docker/Dockerfile.mlflow', 'mlflow')}
    for dockerfile, target in built:
        assert f'AS {target}' in (ROOT/dockerfile).read_text()
    push = images['env']['PUSH']
    assert "github.ref == 'refs/heads/main'" in push and "github.event_name == 'push'" in push and 'vars.IMAGE_REGISTRY' in push
    assert all(s.get('if') == "env.PUSH == 'true'" for s in images['steps'] if 'push' in s.get('name', '') or 'login' in s.get('name', ''))


def test_a_weekly_schedule_runs_the_retraining_pipeline():
    wf = _workflow()
    assert any(re.fullmatch(r'\S+ \S+ \* \* [0-6]', c['cron']) for c in wf['on']['schedule'])  # once a week
    retrain = wf['jobs']['retrain']
    assert "github.event_name == 'schedule'" in retrain['if']
    assert re.search(r'make pipeline|housing pipeline', _runs(retrain))
    for name, job in wf['jobs'].items():
        if name != 'retrain': assert "github.event_name != 'schedule'" in job.get('if', "github.event_name != 'schedule'"), name


def test_workflow_secrets_come_from_github_secrets_only():
    text = WORKFLOW.read_text()
    for m in re.finditer(r'(?im)^\s*([A-Z_]*(?:PASSWORD|TOKEN|SECRET|KEY)[A-Z_]*)\s*:\s*(.+)$', text):
        assert '${{ secrets.' in m.group(2) or '${{' in m.group(2), f'{m.group(1)} is set to a literal'
    assert 'permissions:' in text and re.search(r'^permissions:\n  contents: read', text, re.M)  # least privilege by default


def test_pre_commit_runs_nbdevs_hooks_and_ruff():
    cfg = yaml.safe_load((ROOT/'.pre-commit-config.yaml').read_text())
    hooks = [h for repo in cfg['repos'] for h in repo['hooks']]
    ids = [h['id'] for h in hooks]
    assert ids.index('nbdev_clean') < ids.index('nbdev_export') < ids.index('ruff')  # ruff sees the exported code
    assert {h['entry'].split()[0] for h in hooks} == {'nbdev_clean', 'nbdev_export', 'ruff'}


@pytest.mark.skipif(not Path(PRE_COMMIT).exists(), reason='pre-commit is not installed (dev requirement)')
def test_pre_commit_accepts_its_config():
    r = subprocess.run([PRE_COMMIT, 'validate-config', str(ROOT/'.pre-commit-config.yaml')], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
