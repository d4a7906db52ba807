"""Training in lanes: `train_all(jobs=2)` runs two training notebooks at once into a store it creates first, with live
progress lines for both, and gives the very numbers a one-at-a-time run gives."""
import mlflow

from housing.runner import train_all

METRICS = ('cv_rmse_mean', 'cv_rmse_std', 'test_rmse', 'test_mae', 'test_r2')


def test_two_lanes_overlap_in_a_new_store_and_give_the_sequential_numbers(tmp_path):
    uri = f"sqlite:///{tmp_path/'mlflow.db'}"  # no store yet: train_all creates it before the kernels start
    params = {'tracking_uri': uri, 'cv_folds': 2, 'register': False}
    lines = []
    lanes = train_all(['linear', 'random_forest'], {**params, 'experiment': 'lanes'}, echo=lines.append,
                      progress=True, output_dir=tmp_path/'lanes', jobs=2)
    assert [r.name for r in lanes] == ['random_forest', 'linear'] and all(r.ok and not r.cached for r in lanes), [r.error for r in lanes]
    assert lines[:2] == ['[1/2] random_forest', '[2/2] linear'], lines  # both started before either finished
    assert {l.split(':')[0] for l in lines[2:4]} == {'  random_forest', '  linear'} and '2 of 2 trained (0 cached)' in lines[-1], lines
    c = mlflow.MlflowClient(uri)
    spans = [(c.get_run(r.run_id).info.start_time, c.get_run(r.run_id).info.end_time) for r in lanes]
    assert max(s for s, _ in spans) < min(e for _, e in spans), spans  # the two runs were open at the same time

    one = train_all(['linear', 'random_forest'], {**params, 'experiment': 'one-lane'}, echo=lambda _: None,
                    progress=False, output_dir=tmp_path/'one', jobs=1)
    assert {r.run_id for r in one}.isdisjoint(r.run_id for r in lanes)  # another experiment: trained again, not cached
    for a, b in zip(sorted(lanes, key=lambda r: r.name), sorted(one, key=lambda r: r.name)):
        assert {k: a.metrics[k] for k in METRICS} == {k: b.metrics[k] for k in METRICS}, a.name
