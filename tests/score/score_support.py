"""Helpers of the batch-scoring tests (a uniquely named module: test files import from it, not from conftest)."""
import sys
from pathlib import Path

HOUSING = Path(sys.executable).parent/'housing'


def run_housing(*args, env=None, timeout=600):
    "`housing ARGS` as a user runs it: (return code, stdout, stderr)"
    import subprocess
    r = subprocess.run([str(HOUSING), *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    return r.returncode, r.stdout, r.stderr
