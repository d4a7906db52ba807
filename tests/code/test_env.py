"""Code tests: environment.yml and settings.ini list the same dependencies."""
import re
import shlex
from configparser import ConfigParser
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _norm(req: str) -> str:
    return re.sub(r'\s+', '', req).lower().replace('_', '-')


def test_environment_yml_agrees_with_settings_ini():
    cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    d = cfg['DEFAULT']
    wanted = {_norm(r) for r in shlex.split(d['requirements']) + shlex.split(d['dev_requirements'])}
    env = yaml.safe_load((ROOT/'environment.yml').read_text())
    pip = next(x['pip'] for x in env['dependencies'] if isinstance(x, dict) and 'pip' in x)
    listed = {_norm(r) for r in pip if not r.startswith('-e')}
    assert listed == wanted, f'only in environment.yml: {sorted(listed - wanted)}; only in settings.ini: {sorted(wanted - listed)}'
    assert f"python={d['min_python']}" in env['dependencies']


def test_nbdev_2_pins_are_kept():
    d = ConfigParser(delimiters=['=']); d.read(ROOT/'settings.ini')
    dev = d['DEFAULT']['dev_requirements']
    for pin in ('nbdev==2.4.14', 'fastcore<2', 'execnb<0.2'): assert pin in dev
    assert 'tags' in d['DEFAULT']['allowed_cell_metadata_keys'].split()
