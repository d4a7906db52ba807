"""Every row is accounted for: broken rows are in the rejects file with row, field and reason; the rest are scored as the API scores them."""
import numpy as np
import pandas as pd
import pytest

from housing.data import FEATURES
from housing.score import score_pandas


@pytest.fixture(scope='module')
def pandas_run(score_files, scorer, tmp_path_factory):
    d = tmp_path_factory.mktemp('rejects')
    r = score_pandas(score_files['parquet'], d/'out.parquet', scorer=scorer, chunk_rows=4096)
    return r, pd.read_parquet(r.output), pd.read_csv(r.rejects)


def test_each_broken_row_is_rejected_with_its_field_and_reason(pandas_run):
    from housing.validation import expected
    r, out, rej = pandas_run
    assert rej[['row', 'field']].values.tolist() == [
        [17, 'Latitude'], [250, 'MedInc'], [1999, 'HouseAge'], [3001, 'AveBedrms'], [4242, 'Population'],
        [5000, 'Longitude'], [7777, 'AveOccup'], [8888, 'AveBedrms'], [9000, 'Latitude'], [9000, 'MedInc']]
    reasons = dict(zip(zip(rej['row'], rej['field']), rej['reason']))
    assert reasons[(17, 'Latitude')] == f"Latitude must be {expected('Latitude')}" == 'Latitude must be a finite number >= 32.5 and <= 42 (degrees north)'
    assert reasons[(8888, 'AveBedrms')] == 'AveBedrms must be <= AveRooms'  # the cross rule, as the API words it
    assert reasons[(3001, 'AveBedrms')] == f"AveBedrms must be {expected('AveBedrms')}"  # a field problem hides the cross rule, as in the API
    assert rej.loc[rej['row'] == 17, 'value'].item() == 50.1 and np.isnan(rej.loc[rej['row'] == 1999, 'value'].item())
    assert not set(rej['row']) & set(out['row'])
    assert (r.rows, r.scored, r.rejected, r.problems) == (10_000, 9_991, 9, 10)
    assert sorted(set(out['row']) | set(rej['row'])) == list(range(10_000))  # nothing silently dropped


def test_scored_rows_are_what_the_api_answers(pandas_run, score_frame_10k, scorer):
    from housing.served import ServedModel
    r, out, _ = pandas_run
    served = ServedModel(scorer.loaded)
    X = score_frame_10k.loc[out['row'], FEATURES].to_numpy()
    y = served.predict_rows(X)
    np.testing.assert_allclose(out['prediction'], y, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(out['price_usd'], np.round(y * 100_000, 2))
    mask = served.ood_mask(X)
    assert out['out_of_distribution'].tolist() == mask.any(axis=1).tolist()
    assert out['ood_features'].tolist() == [','.join(f for f, m in zip(FEATURES, row) if m) for row in mask]
    assert set(out['model_version']) == {scorer.version} and r.out_of_distribution == int(mask.any(axis=1).sum()) >= 1


def test_output_schema_is_fixed(pandas_run):
    import pyarrow.parquet as pq
    r, *_ = pandas_run
    schema = pq.read_schema(r.output)
    assert [(f.name, str(f.type)) for f in schema] == [('row', 'int64'), ('prediction', 'double'), ('price_usd', 'double'),
                                                       ('model_version', 'string'), ('out_of_distribution', 'bool'), ('ood_features', 'string')]


def test_cli_prints_the_counts(score_files, trained_store, tmp_path):
    import os

    from score_support import run_housing
    env = dict(os.environ, MLFLOW_TRACKING_URI=trained_store['tracking_uri'])
    code, out, err = run_housing('score', score_files['csv'], tmp_path/'preds.parquet', env=env)
    assert code == 0, err
    assert '10,000 rows read, 9,991 scored by model version' in out and '9 rejected (10 problems)' in out
    assert f"rejects: {tmp_path/'preds.rejects.csv'}" in out
    assert len(pd.read_parquet(tmp_path/'preds.parquet')) == 9_991
