"""Code tests: the notebooks are the source. Exporting and cleaning a scratch copy change nothing."""
import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _scratch(tmp_path) -> Path:
    dst = tmp_path/'repo'
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT/f).is_file():
            (dst/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/f, dst/f)
    return dst


def _diff(a: Path, b: Path, pattern: str) -> list[str]:
    out = []
    for f in sorted(a.rglob(pattern)):
        g = b/f.relative_to(a)
        if '__pycache__' in f.parts: continue
        if not g.exists() or not filecmp.cmp(f, g, shallow=False): out.append(str(f.relative_to(a)))
    return out


def test_exporting_the_notebooks_changes_nothing(tmp_path):
    d = _scratch(tmp_path)
    r = subprocess.run([BIN/'nbdev_export'], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    changed = _diff(d/'housing', ROOT/'housing', '*.py') + _diff(ROOT/'housing', d/'housing', '*.py')
    assert not changed, f'notebooks and library are not in sync (edit nbs/, run nbdev_export): {changed}'


def test_cleaning_the_notebooks_changes_nothing(tmp_path):
    d = _scratch(tmp_path)
    r = subprocess.run([BIN/'nbdev_clean'], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    changed = _diff(d/'nbs', ROOT/'nbs', '*.ipynb')
    assert not changed, f'notebooks are not clean (run nbdev_clean): {changed}'


def test_the_parameters_tag_survives_cleaning():
    import json
    nb = json.loads((ROOT/'nbs'/'pipelines'/'train.ipynb').read_text())
    assert any('parameters' in c.get('metadata', {}).get('tags', []) for c in nb['cells'])
