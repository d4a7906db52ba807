"""Code tests: environment.yml and settings.ini list the same dependencies, and the lock files pin them exactly.

settings.ini holds the ranges: `requirements` (the core, what `housing serve` needs), one `NAME_requirements` key per
pip extra (dashboard, notebooks, server, ...) and `dev_requirements`. requirements/*.lock (`make lock`) pin them with
hashes; the images and make's .venv install from the locks."""
import re
import sys
from configparser import ConfigParser
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT/'requirements'
sys.path.insert(0, str(LOCKS))
import lock as locking  # noqa: E402  requirements/lock.py: which lock holds which sets

# what must never reach the API image (docker/Dockerfile.api installs runtime.lock only)
NOT_IN_API = {'streamlit', 'jupyterlab', 'notebook', 'jupyter-server', 'ipykernel', 'papermill', 'nbconvert', 'nbclient'}


def _norm(req: str) -> str:
    return re.sub(r'\s+', '', req).lower().replace('_', '-')


def _settings() -> dict:
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    return cfg['DEFAULT']


def _sets() -> dict[str, list[str]]:
    "{'': core, extra name: its requirements, 'dev': dev tools}"
    return locking.settings()


def _pins(name: str) -> dict[str, str]:
    return locking.pins(LOCKS/f'{name}.lock')


def test_environment_yml_agrees_with_settings_ini():
    d = _settings()
    wanted = {_norm(r) for v in _sets().values() for r in v}
    env = yaml.safe_load((ROOT/'environment.yml').read_text())
    pip = next(x['pip'] for x in env['dependencies'] if isinstance(x, dict) and 'pip' in x)
    listed = {_norm(r) for r in pip if not r.startswith('-')}
    assert listed == wanted, f'only in environment.yml: {sorted(listed - wanted)}; only in settings.ini: {sorted(wanted - listed)}'
    assert f"python={d['min_python']}" in env['dependencies']


def test_nbdev_2_pins_are_kept():
    d = _settings()
    dev = d['dev_requirements']
    for pin in ('nbdev==2.4.14', 'fastcore<2', 'execnb<0.2'): assert pin in dev
    assert 'tags' in d['allowed_cell_metadata_keys'].split()


def test_setup_py_makes_an_extra_of_every_requirements_key_and_dev_takes_them_all():
    import runpy
    import setuptools
    seen = {}
    real, setuptools.setup = setuptools.setup, lambda **kw: seen.update(kw)
    try: runpy.run_path(str(ROOT/'setup.py'), run_name='__setup__')
    finally: setuptools.setup = real
    sets = _sets()
    assert seen['install_requires'] == sets['']
    extras = {k: v for k, v in sets.items() if k not in ('', 'dev')}
    assert {'dashboard', 'notebooks'} <= set(extras)
    for name, reqs in extras.items(): assert seen['extras_require'][name] == reqs, name
    assert set(seen['extras_require']['dev']) == {r for k, v in sets.items() if k != '' for r in v}


def test_the_core_is_what_the_api_needs_and_nothing_of_the_dashboard_or_notebooks():
    core = {canonicalize_name(Requirement(r).name) for r in _sets()['']}
    assert {'fastapi', 'uvicorn', 'mlflow', 'scikit-learn', 'prometheus-client'} <= core
    assert not core & (NOT_IN_API | {'matplotlib', 'optuna'}), core & NOT_IN_API


@pytest.mark.parametrize('name', ['dev', *locking.LOCKS])
def test_every_lock_pins_with_hashes_and_satisfies_settings_ini(name):
    text = (LOCKS/f'{name}.lock').read_text()
    pins = _pins(name)
    assert pins, f'{name}.lock pins nothing'
    blocks = re.split(r'\n(?=[A-Za-z0-9])', text.split('\n', 2)[-1])
    for block in blocks:
        if '==' in block.split('\n')[0]: assert '--hash=sha256:' in block, f'{name}.lock: no hash for {block.splitlines()[0]}'
    for req in locking.inputs()[name]:
        r = Requirement(req)
        key = canonicalize_name(r.name)
        assert key in pins, f'{name}.lock lacks {r.name} (settings.ini wants {req}): run `make lock`'
        assert r.specifier.contains(pins[key], prereleases=True), f'{name}.lock pins {r.name}=={pins[key]}, settings.ini wants {req}: run `make lock`'


def test_locks_agree_with_each_other_and_the_api_lock_is_lean():
    dev = _pins('dev')
    for name in locking.LOCKS:
        for pkg, version in _pins(name).items():
            assert dev.get(pkg) == version, f'{name}.lock pins {pkg}=={version}, dev.lock {dev.get(pkg)}'
    for name, left_out in locking.NO_EMIT.items():
        assert not set(left_out) & set(_pins(name)), f'{name}.lock pins {left_out}'
        assert all(p in _pins('dev') for p in left_out), 'only what the full environment has can be left out'
    api = set(_pins('runtime'))
    assert not api & NOT_IN_API, f'runtime.lock (the API image) carries {sorted(api & NOT_IN_API)}'
    assert {'streamlit', 'papermill', 'ipykernel'} <= set(_pins('ui'))
    assert {'mlflow', 'psycopg2-binary'} <= set(_pins('mlflow'))


def test_the_images_and_make_install_from_the_locks():
    docker = ROOT/'docker'
    # --no-deps: the image locks are whole closures but for what lock.py leaves out on purpose (NO_EMIT)
    assert 'pip install --require-hashes --no-deps --no-compile -r requirements/runtime.lock' in (docker/'Dockerfile.api').read_text()
    ui = (docker/'Dockerfile.ui').read_text()
    assert 'pip install --require-hashes --no-deps --no-compile -r requirements/ui.lock' in ui
    assert 'pip install --require-hashes -r /tmp/mlflow.lock' in (docker/'Dockerfile.mlflow').read_text()
    make = (ROOT/'Makefile').read_text()
    assert '--require-hashes -r requirements/dev.lock' in make and re.search(r'^lock:', make, re.M)
