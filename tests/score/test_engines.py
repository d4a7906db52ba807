"""The pandas and Spark engines give the same rows, predictions and rejects on the same 10,000 rows."""
import numpy as np
import pandas as pd
import pytest

from housing.score import score_pandas

pytestmark = pytest.mark.slow


def _same_rejects(a: pd.DataFrame, b: pd.DataFrame):
    assert a[['row', 'field', 'reason']].fillna('').values.tolist() == b[['row', 'field', 'reason']].fillna('').values.tolist()
    np.testing.assert_array_equal(a['value'].to_numpy(float), b['value'].to_numpy(float))


@pytest.fixture(scope='module')
def both(score_files, trained_store, spark, tmp_path_factory):
    "Each engine's output and rejects for the Parquet input"
    from housing.score_spark import score_spark
    d = tmp_path_factory.mktemp('engines')
    uri, tracking = trained_store['model_uri'], trained_store['tracking_uri']
    rp = score_pandas(score_files['parquet'], d/'pandas.parquet', uri, tracking, chunk_rows=3000)
    rs = score_spark(score_files['parquet'], d/'spark.parquet', 'local[2]', uri, tracking, spark=spark)
    read = lambda r: (pd.read_parquet(r.output).sort_values('row').reset_index(drop=True), pd.read_csv(r.rejects))
    return rp, rs, read(rp), read(rs)


def test_engines_give_the_same_predictions_on_10000_rows(both):
    rp, rs, (out_p, _), (out_s, _) = both
    assert len(out_p) == len(out_s) == rp.scored == rs.scored == 10_000 - 9
    assert out_p['row'].tolist() == out_s['row'].tolist()
    np.testing.assert_allclose(out_p['prediction'], out_s['prediction'], rtol=0, atol=1e-9)
    np.testing.assert_allclose(out_p['price_usd'], out_s['price_usd'], rtol=0, atol=1e-4)
    for c in ('model_version', 'out_of_distribution', 'ood_features'):
        assert out_p[c].tolist() == out_s[c].tolist(), c
    assert out_p.loc[out_p['row'] == 42, 'ood_features'].item().split(',')[0] == 'AveRooms'


def test_engines_give_the_same_rejects(both):
    rp, rs, (_, rej_p), (_, rej_s) = both
    _same_rejects(rej_p, rej_s)
    assert (rp.rows, rp.rejected, rp.problems, rp.out_of_distribution) == (rs.rows, rs.rejected, rs.problems, rs.out_of_distribution)
    assert rp.rejected == 9 and rp.problems == 10


def test_spark_output_is_a_parquet_dataset_with_the_pandas_schema(both):
    import pyarrow.parquet as pq
    rp, rs, *_ = both
    assert rs.output.is_dir() and (rs.output/'_SUCCESS').exists()
    assert pq.read_schema(rp.output).names == [f.name for f in pq.ParquetDataset(rs.output).schema]
    assert not [p for p in rs.output.parent.iterdir() if '.tmp-' in p.name]


def test_engines_agree_on_csv_and_number_rows_alike(score_frame_10k, trained_store, spark, tmp_path):
    from housing.score_spark import score_spark
    small = score_frame_10k.iloc[:2500]
    small.to_csv(tmp_path/'small.csv', index=False)
    uri, tracking = trained_store['model_uri'], trained_store['tracking_uri']
    rp = score_pandas(tmp_path/'small.csv', tmp_path/'p.parquet', uri, tracking, chunk_rows=700)
    rs = score_spark(tmp_path/'small.csv', tmp_path/'s.parquet', 'local[2]', uri, tracking, spark=spark)
    out_p, out_s = pd.read_parquet(rp.output), pd.read_parquet(rs.output).sort_values('row').reset_index(drop=True)
    assert out_p['row'].tolist() == out_s['row'].tolist()
    np.testing.assert_allclose(out_p['prediction'], out_s['prediction'], rtol=0, atol=1e-9)
    _same_rejects(pd.read_csv(rp.rejects), pd.read_csv(rs.rejects))
    assert pd.read_csv(rs.rejects)['row'].tolist() == [17, 250, 1999]


def test_text_in_a_csv_column_fails_alike_in_both_engines(score_frame_10k, trained_store, spark, tmp_path):
    from housing.errors import InputError
    from housing.score_spark import score_spark
    bad = score_frame_10k.iloc[:3000].astype({'HouseAge': object})
    bad.loc[2500, 'HouseAge'] = 'forty'
    bad.to_csv(tmp_path/'bad.csv', index=False)
    uri, tracking = trained_store['model_uri'], trained_store['tracking_uri']
    with pytest.raises(InputError) as ep: score_pandas(tmp_path/'bad.csv', tmp_path/'p.parquet', uri, tracking, chunk_rows=1000)
    with pytest.raises(InputError) as es: score_spark(tmp_path/'bad.csv', tmp_path/'s.parquet', 'local[2]', uri, tracking, spark=spark)
    assert str(ep.value) == str(es.value) == f"{tmp_path/'bad.csv'}: row 2500, column HouseAge: 'forty' is not a number; every feature must be a number (an empty cell rejects only its row)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ['bad.csv']
