"""`make bench-score`: `housing score` on 1 and 10 million rows with each engine; rows/s and peak resident memory.

The rows are real rows of the data set resampled with seeded noise, written as Parquet in slices (so
generating them needs little memory either). Each run is the real command in its own process; its
resident memory is sampled every 0.1 s and summed over the process and its children (Spark's JVM and
Python workers included); CPU seconds are those of the finished process tree, which say more than the
wall time on a shared machine (sampled too, so a process's last 0.1 s may be missed). The pandas engine must stay under 2 GB on 10 million rows.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HOUSING = Path(sys.executable).parent/'housing'
PANDAS_LIMIT_MB = 2048


def generate(path: Path, rows: int, seed: int = 0, slice_rows: int = 1_000_000) -> Path:
    "`rows` real rows resampled with multiplicative noise (seeded), as Parquet written slice by slice"
    import pyarrow as pa
    import pyarrow.parquet as pq

    from housing.data import FEATURES, load_housing
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows: return path
    base = load_housing(check=False)[FEATURES].to_numpy()
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix('.tmp')
    with pq.ParquetWriter(tmp, pa.schema([(f, pa.float64()) for f in FEATURES])) as w:
        for start in range(0, rows, slice_rows):
            n = min(slice_rows, rows - start)
            X = base[rng.integers(0, len(base), n)] * rng.uniform(0.98, 1.02, (n, len(FEATURES)))
            X[:, 6:] = base[rng.integers(0, len(base), n)][:, 6:] + rng.normal(0, 0.01, (n, 2))  # coordinates: small shifts
            w.write_table(pa.Table.from_arrays([pa.array(X[:, j]) for j in range(len(FEATURES))], names=FEATURES))
    tmp.rename(path)
    return path


def tree_sample(proc, cpu: dict) -> int:
    "Resident bytes of `proc` and all its children; records each one's CPU seconds so far in `cpu` (pid -> seconds)"
    import psutil
    total = 0
    try: procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess: return 0
    for p in procs:
        try:
            with p.oneshot():
                total += p.memory_info().rss
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system
        except psutil.NoSuchProcess: pass
    return total


def run_score(inp: Path, out: Path, engine: str, master: str, env: dict) -> dict:
    "One `housing score` run: wall seconds, CPU seconds and peak resident memory of its process tree"
    import psutil
    cmd = [str(HOUSING), 'score', str(inp), str(out), '--engine', engine] + (['--master', master] if engine == 'spark' else [])
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    ps, peak, cpu = psutil.Process(p.pid), 0, {}
    while p.poll() is None:
        peak = max(peak, tree_sample(ps, cpu))
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    stdout, stderr = p.communicate()
    if p.returncode != 0: raise SystemExit(f'{" ".join(cmd)} failed ({p.returncode}):\n{stderr[-3000:]}')
    return dict(engine=engine, wall_s=wall, cpu_s=sum(cpu.values()), peak_mb=peak / 2**20, report=stdout.strip())


def temp_store(d: Path, model: str) -> str:
    "A temporary MLflow store with `model` trained (small settings) and promoted to champion"
    from housing import train
    from housing.data import load_housing
    from housing.tracking import promote_best
    uri = f"sqlite:///{d/'mlflow.db'}"
    os.environ['MLFLOW_TRACKING_URI'] = uri
    params = {'max_iter': 60} if model == 'hist_gradient_boosting' else {}
    train.start_run(model, uri, 'bench-score')
    train.log_result(train.fit_evaluate(model, params, seed=42, cv_folds=2, data=load_housing()))
    train.end_run()
    promote_best(tracking_uri=uri)
    return uri


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', type=int, nargs='+', default=[1_000_000, 10_000_000], help='rows per input (default: 1e6 1e7)')
    ap.add_argument('--engines', nargs='+', default=['pandas', 'spark'], choices=['pandas', 'spark'], help='(default: both)')
    ap.add_argument('--master', default='local[2]', help='Spark master (default: local[2])')
    ap.add_argument('--data-dir', type=Path, default=None, help='where the generated inputs are kept (default: a temporary folder)')
    ap.add_argument('--temp-store', action='store_true', help='train a small model into a temporary store instead of using the champion')
    ap.add_argument('--model', default='hist_gradient_boosting', help='catalogue model for --temp-store (default: hist_gradient_boosting)')
    ap.add_argument('--json', type=Path, help='also write the results here')
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix='housing-bench-score-'))
    data_dir = a.data_dir or work
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    try:
        if a.temp_store: env['MLFLOW_TRACKING_URI'] = temp_store(work, a.model)
        results = []
        for n in a.sizes:
            t = time.perf_counter()
            inp = generate(data_dir/f'rows-{n}.parquet', n)
            print(f'{n:,} rows: {inp} ({inp.stat().st_size / 2**20:,.0f} MB, {time.perf_counter() - t:.0f} s to make)', flush=True)
            for engine in a.engines:
                out = work/f'out-{engine}-{n}.parquet'
                r = run_score(inp, out, engine, a.master, env)
                r.update(rows=n, rows_per_s=n / r['wall_s'])
                results.append(r)
                print(f"  {engine:<7} {r['rows_per_s']:>10,.0f} rows/s  {r['wall_s']:7.1f} s wall  {r['cpu_s']:7.1f} s CPU  "
                      f"peak {r['peak_mb']:7,.0f} MB resident (load average {os.getloadavg()[0]:.1f})\n    "
                      + r['report'].replace('\n', '\n    '), flush=True)
                if out.is_dir(): shutil.rmtree(out, ignore_errors=True)
                else: out.unlink(missing_ok=True)
        print("\n| engine | rows | rows/s (wall) | wall s | CPU s | peak resident MB |\n|---|---:|---:|---:|---:|---:|")
        for r in results:
            print(f"| {r['engine']} | {r['rows']:,} | {r['rows_per_s']:,.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_mb']:,.0f} |")
        if a.json: a.json.write_text(json.dumps(results, indent=2))
        over = [r for r in results if r['engine'] == 'pandas' and r['peak_mb'] > PANDAS_LIMIT_MB]
        if over: raise SystemExit(f'pandas engine over {PANDAS_LIMIT_MB} MB resident: {over}')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
