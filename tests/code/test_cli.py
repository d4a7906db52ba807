"""Code tests: the housing command lists its verbs and fails clearly."""
import subprocess
import sys
from pathlib import Path

HOUSING = Path(sys.executable).parent/'housing'


def test_help_lists_every_verb():
    out = subprocess.run([HOUSING, '--help'], capture_output=True, text=True, check=True).stdout
    for verb in ('train', 'train-all', 'promote', 'leaderboard', 'pipeline', 'serve', 'monitor', 'simulate', 'dashboard', 'status', 'data', 'models'):
        assert f'    {verb} ' in out or f'    {verb}\n' in out, verb


def test_unknown_model_is_one_line_and_exit_2():
    r = subprocess.run([HOUSING, 'train', 'rfx'], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == "housing train: error: unknown model 'rfx'; choose one of: " + ', '.join(__import__('housing.models', fromlist=['x']).CATALOGUE)
    assert 'Traceback' not in r.stderr


def test_missing_data_file_is_named(tmp_path):
    r = subprocess.run([HOUSING, 'data', '--path', str(tmp_path/'nope.data')], capture_output=True, text=True)
    assert r.returncode == 2 and str(tmp_path/'nope.data') in r.stderr and 'file not found' in r.stderr


def test_data_command_checks_the_manifest(raw_data_path):
    r = subprocess.run([HOUSING, 'data', '--path', str(raw_data_path)], capture_output=True, text=True)
    assert r.returncode == 0 and 'matches data/manifest.json' in r.stdout
