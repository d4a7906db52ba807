"""Code tests: the layout stays readable: modules of one concern, one door to MLflow and to the log, one settings object."""
import ast
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p for p in (ROOT/'housing').glob('*.py') if p.name != '_modidx.py')


def _source(p: Path) -> str: return p.read_text(encoding='utf-8')


def test_no_library_module_is_over_400_lines():
    big = {p.name: n for p in MODULES if (n := len(_source(p).splitlines())) > 400}
    assert not big, f'split these by concern: {big}'


def test_no_exported_notebook_cell_is_over_60_lines():
    long = []
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        for i, c in enumerate(json.loads(nb.read_text(encoding='utf-8'))['cells']):
            src = ''.join(c['source'])
            if c['cell_type'] == 'code' and re.match(r'\s*#\|\s*export', src) and len(src.splitlines()) > 60:
                long.append(f'{nb.name} cell {i}: {len(src.splitlines())} lines')
    assert not long, long


def test_only_tracking_builds_mlflow_clients_and_only_predlog_opens_the_log():
    assert [p.name for p in MODULES if 'MlflowClient' in _source(p)] == ['tracking.py']
    assert [p.name for p in MODULES if 'sqlite3.connect' in _source(p)] == ['predlog.py']


def _imports_of(p: Path) -> set[str]:
    "The housing modules `p` imports, at the top or inside a function (a lazy import is still a dependency)"
    names = {m.stem for m in MODULES}
    out = set()
    for n in ast.walk(ast.parse(_source(p))):
        if isinstance(n, ast.ImportFrom) and n.level == 1:
            out |= {n.module.split('.')[0]} if n.module else {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom) and (n.module or '').split('.')[0] == 'housing':
            out |= {n.module.split('.')[1]} if '.' in n.module else {a.name for a in n.names}
        elif isinstance(n, ast.Import):
            out |= {a.name.split('.')[1] for a in n.names if a.name.startswith('housing.')}
    return (out & names) - {p.stem}


# The one dependency allowed to point back: `housing score --engine spark` reaches the optional Spark engine, which
# reuses the pandas engine's chunk function; pyspark is imported only when that engine is asked for.
OPTIONAL_ENGINES = {('score', 'score_spark')}


def test_library_imports_form_no_cycle():
    graph = {p.stem: _imports_of(p) - {b for a, b in OPTIONAL_ENGINES if a == p.stem} for p in MODULES}
    done, cycles = set(), []
    def visit(m, path):
        if m in path: cycles.append(' -> '.join(path[path.index(m):] + [m])); return
        if m in done: return
        for d in sorted(graph[m]): visit(d, path + [m])
        done.add(m)
    for m in sorted(graph): visit(m, [])
    assert not cycles, f'modules that import each other (lazily counts too): {cycles}'


def test_settings_are_read_in_config_only():
    readers = {p.name for p in MODULES if re.search(r"os\.environ(\.get)?\s*[\[(]\s*['\"](HOUSING_|MLFLOW_TRACKING_URI)", _source(p))}
    assert readers <= {'config.py'}, f'read these through housing.config.get_settings(): {sorted(readers - {"config.py"})}'


def test_no_library_module_switches_pickle_loading_on_for_the_process():
    assert not [p.name for p in MODULES if 'MLFLOW_ALLOW_PICKLE_DESERIALIZATION' in _source(p)]


def test_benchmarks_do_not_switch_pickle_loading_on_for_their_servers():
    "Models load via skops everywhere, the benchmarks' `mlflow models serve` included: no pickle permission in a child's environment"
    offenders = [p.name for p in sorted((ROOT/'bench').glob('*.py')) if re.search(r"['\"]MLFLOW_ALLOW_PICKLE_DESERIALIZATION['\"]\s*:", _source(p))]
    assert not offenders, offenders


def test_import_housing_stays_light():
    code = ('import sys; import housing, housing.config, housing.errors, housing.data, housing.models, housing.cli; '
            'print(sorted(m for m in ("mlflow", "sklearn", "fastapi", "matplotlib", "streamlit") if m in sys.modules))')
    assert subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.strip() == '[]'


def test_notebook_cell_ids_are_unique():
    "nbdev names each exported cell by its id (`# %% ../nbs/x.ipynb #id`): a repeated id points at two cells"
    repeated = {}
    for nb in sorted((ROOT/'nbs').rglob('*.ipynb')):
        ids = [c.get('id') for c in json.loads(nb.read_text(encoding='utf-8'))['cells']]
        if dup := sorted({i for i in ids if ids.count(i) > 1}): repeated[str(nb.relative_to(ROOT))] = dup
    assert not repeated, f'give these cells new ids: {repeated}'
