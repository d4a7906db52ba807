"""Regenerate requirements/*.lock from settings.ini's ranges (`make lock`): exact versions with hashes, CPython 3.11 on
Linux x86_64, resolved from PyPI by `uv pip compile --generate-hashes`.

    dev.lock      everything `pip install -e '.[dev]'` needs: the core, every extra and the dev tools (make's .venv, CI)
    runtime.lock  the core only, what `housing serve` needs (docker/Dockerfile.api: no Streamlit, no Jupyter, no NCCL,
                  and mlflow-skinny for mlflow: see CLIENT_ONLY)
    ui.lock       the core + the `dashboard` and `notebooks` extras (docker/Dockerfile.ui: dashboard and `train` job)
    mlflow.lock   mlflow + the `server` extra (docker/Dockerfile.mlflow: the tracking server on PostgreSQL)

dev.lock is resolved first and pins the others (as constraints), so a package has one version in every lock.
A new `NAME_requirements` key in settings.ini goes into dev.lock at once; add NAME to a lock below to put it in an image.
Usage: python requirements/lock.py [--uv PATH]"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT/'requirements'
PYTHON, PLATFORM = '3.11', 'x86_64-manylinux_2_28'
# lock -> (with the core requirements?, extras); dev takes every extra and the dev tools
LOCKS = {'runtime': (True, []), 'ui': (True, ['dashboard', 'notebooks']), 'mlflow': (False, ['server'])}
# left out of the image locks (which the Dockerfiles install with --no-deps): xgboost's NCCL, GPU-to-GPU communication
# (470 MB) that it loads only for multi-GPU training; the images predict and train on the CPU
NO_EMIT = {'runtime': ['nvidia-nccl-cu12'], 'ui': ['nvidia-nccl-cu12']}
# the API is only an MLflow client (it resolves the alias and loads the model over HTTP, or loads a mounted model
# directory): mlflow-skinny is the same `mlflow` package, same version, without the server, UI and SQL store
# (Flask, SQLAlchemy, pyarrow, matplotlib, ...: 300 MB)
CLIENT_ONLY = {'runtime': {'mlflow': 'mlflow-skinny'}}


def settings() -> dict[str, list[str]]:
    "settings.ini's requirement sets: {'': core, NAME: extra NAME, 'dev': the dev tools}"
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8')
    d = cfg['DEFAULT']
    out = {'': shlex.split(d.get('requirements', ''))}
    for k, v in d.items():
        if k.endswith('_requirements'): out[k[:-len('_requirements')]] = shlex.split(v)
    return out


def inputs() -> dict[str, list[str]]:
    "The top-level requirements of each lock"
    s = settings()
    mlflow = [r for r in s[''] if re.match(r'mlflow\b(?![-_])', r)]
    # dev also pins the package's own build backend (pyproject.toml), so `pip install --no-build-isolation -e .` works
    build = re.search(r'requires\s*=\s*\[([^\]]*)\]', (ROOT/'pyproject.toml').read_text()).group(1)
    ins = {'dev': [r for k, v in s.items() for r in v] + re.findall(r'"([^"]+)"', build)}
    for name, (core, extras) in LOCKS.items():
        reqs = (s[''] if core else mlflow) + [r for e in extras for r in s[e]]
        for old, new in CLIENT_ONLY.get(name, {}).items():
            reqs = [re.sub(rf'^{old}(?=[<>=!~;\[ ]|$)', new, r) for r in reqs]
        ins[name] = reqs
    return ins


def compile_lock(uv: str, name: str, reqs: list[str], tmp: Path, constraints: Path | None = None, no_emit=()):
    src = tmp/f'{name}.in'
    src.write_text('\n'.join(reqs) + '\n')
    cmd = [uv, 'pip', 'compile', '--quiet', '--generate-hashes', '--no-config', '--native-tls',
           '--python-version', PYTHON, '--python-platform', PLATFORM, '--index-url', 'https://pypi.org/simple',
           '--custom-compile-command', 'make lock', '--annotation-style', 'line', '-o', str(HERE/f'{name}.lock'), src.name]
    if constraints: cmd += ['-c', constraints.name]
    for pkg in no_emit: cmd += ['--no-emit-package', pkg]
    print('lock:', name, '<-', ' '.join(reqs), flush=True)
    subprocess.run(cmd, cwd=tmp, check=True)


def pins(lock: Path) -> dict[str, str]:
    "{normalised name: version} of a lock file"
    return {m.group(1).lower().replace('_', '-'): m.group(2)
            for m in re.finditer(r'^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)', lock.read_text(), re.M)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--uv', default='uv')
    a = p.parse_args(argv)
    ins = inputs()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        compile_lock(a.uv, 'dev', ins['dev'], tmp)
        (tmp/'dev-pins.txt').write_text(''.join(f'{k}=={v}\n' for k, v in sorted(pins(HERE/'dev.lock').items())))
        for name in LOCKS: compile_lock(a.uv, name, ins[name], tmp, tmp/'dev-pins.txt', NO_EMIT.get(name, ()))
    for name in ['dev', *LOCKS]: print(f'requirements/{name}.lock: {len(pins(HERE/f"{name}.lock"))} packages')


if __name__ == '__main__': sys.exit(main())
