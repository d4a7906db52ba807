"""Code tests: the housing command lists its verbs and fails clearly."""
import subprocess
import sys
from pathlib import Path

HOUSING = Path(sys.executable).parent/'housing'


def test_help_lists_every_verb_under_its_group():
    out = subprocess.run([HOUSING, '--help'], capture_output=True, text=True, check=True).stdout
    groups = {'train and choose models': ('models', 'data', 'train', 'train-all', 'pipeline', 'promote', 'rollback', 'leaderboard', 'sweep'),
              'serve and score': ('serve', 'simulate', 'score'), 'watch the served model': ('monitor', 'status', 'log', 'dashboard'),
              'deliver and configure': ('export-model', 'config')}
    for title, verbs in groups.items():
        section = out.split(f'{title}:\n', 1)[1].split('\n\n')[0]
        for verb in verbs:
            assert f'\n  {verb} ' in '\n' + section, (title, verb, section)


def test_every_option_of_every_verb_has_help_and_shows_its_default():
    from housing.cli import VERBS, build_parser
    sub = build_parser()._subparsers._group_actions[0].choices
    assert set(sub) == set(VERBS)
    for name, parser in sub.items():
        for action in parser._actions:
            if action.dest in ('help',): continue
            assert action.help, (name, action.dest)
            takes_value = action.nargs != 0 and action.option_strings and action.dest != 'param'
            if takes_value and action.default is not None:
                assert f'(default: {action.default})' in action.help, (name, action.dest, action.help)


def test_help_answers_fast_and_imports_nothing_heavy():
    code = ('import sys, time; t = time.perf_counter(); from housing.cli import build_parser; build_parser().format_help(); '
            'heavy = [m for m in ("mlflow", "sklearn", "pandas", "fastapi", "matplotlib") if m in sys.modules]; '
            'print(heavy, time.perf_counter() - t)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.startswith('[]'), out


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


def test_rollback_without_history_names_the_problem(tmp_path):
    env = dict(__import__('os').environ, MLFLOW_TRACKING_URI=f'sqlite:///{tmp_path}/missing.db')
    r = subprocess.run([HOUSING, 'rollback'], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and 'no MLflow store at' in r.stderr and 'Traceback' not in r.stderr, r.stderr
