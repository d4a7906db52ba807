"""Bad input gets one line naming what is wrong, a non-zero exit, and no output that looks complete."""
import os
import socket

import pandas as pd
import pytest

from housing.cli import main
from housing.data import FEATURES
from housing.validation import EXAMPLE_ROW


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def store_env(trained_store, monkeypatch):
    monkeypatch.setenv('MLFLOW_TRACKING_URI', trained_store['tracking_uri'])
    monkeypatch.delenv('HOUSING_MODEL_URI', raising=False)


def fails(capsys, tmp_path, *args, contains: str):
    "Run `housing score ARGS`; check exit 2, one line naming the problem, and nothing written under tmp_path/out*"
    before = {p.name for p in tmp_path.iterdir()}
    code = main(['score', *map(str, args)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith('housing score: error: ') and err.count('\n') == 1, err
    assert contains in err, err
    assert {p.name for p in tmp_path.iterdir()} == before, 'output or temporary files left behind'
    return err


def rows(n=20):
    return pd.DataFrame([EXAMPLE_ROW] * n)


def test_missing_column(tmp_path, capsys, store_env):
    rows().drop(columns=['Longitude', 'AveOccup']).to_parquet(tmp_path/'in.parquet')
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', contains='in.parquet: missing column(s) AveOccup, Longitude')


def test_wrong_type_in_parquet(tmp_path, capsys, store_env):
    rows().astype({'Latitude': str}).to_parquet(tmp_path/'in.parquet')
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', contains='column Latitude has type')


def test_text_in_csv_half_way_leaves_the_old_output_alone(tmp_path, capsys, store_env):
    df = rows(3000).astype({'MedInc': object})
    df.loc[2500, 'MedInc'] = 'n/a?'
    df.to_csv(tmp_path/'in.csv', index=False)
    (tmp_path/'out.parquet').write_bytes(b'old output')
    fails(capsys, tmp_path, tmp_path/'in.csv', tmp_path/'out.parquet', '--chunk-rows', 1000,
          contains="in.csv: row 2500, column MedInc: 'n/a?' is not a number")
    assert (tmp_path/'out.parquet').read_bytes() == b'old output'


def test_empty_file(tmp_path, capsys, store_env):
    (tmp_path/'in.csv').write_text('')
    fails(capsys, tmp_path, tmp_path/'in.csv', tmp_path/'out.parquet', contains='in.csv: file is empty')


def test_header_without_rows(tmp_path, capsys, store_env):
    (tmp_path/'in.csv').write_text(','.join(FEATURES) + '\n')
    fails(capsys, tmp_path, tmp_path/'in.csv', tmp_path/'out.parquet', contains='in.csv: has a header but no rows')
    pd.DataFrame(columns=FEATURES, dtype=float).to_parquet(tmp_path/'in.parquet')
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', contains='in.parquet: has no rows')


def test_not_parquet_despite_the_name(tmp_path, capsys, store_env):
    (tmp_path/'in.parquet').write_text('MedInc\n1\n')
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', contains='in.parquet: is not a Parquet file')


@pytest.mark.parametrize('where, says', [('missing.csv', 'missing.csv: file not found'), ('.', 'is a directory'),
                                         ('file.csv/in.csv', 'cannot be read (Not a directory)')])
def test_unreadable_paths(tmp_path, capsys, store_env, where, says):
    (tmp_path/'file.csv').write_text('x\n1\n')
    fails(capsys, tmp_path, tmp_path/where, tmp_path/'out.parquet', contains=says)


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads any file: permission denied cannot be provoked')
def test_permission_denied(tmp_path, capsys, store_env):
    rows().to_csv(tmp_path/'in.csv', index=False)
    (tmp_path/'in.csv').chmod(0)
    fails(capsys, tmp_path, tmp_path/'in.csv', tmp_path/'out.parquet', contains='in.csv: cannot be read (Permission denied)')


def test_unreachable_tracking_server(tmp_path, capsys, monkeypatch):
    rows().to_parquet(tmp_path/'in.parquet')
    port = free_port()
    monkeypatch.setenv('MLFLOW_TRACKING_URI', f'http://127.0.0.1:{port}')
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet',
          contains=f'MLflow tracking store http://127.0.0.1:{port} is unreachable')


def test_unreachable_database_is_named_without_its_password(tmp_path, capsys, monkeypatch):
    rows().to_parquet(tmp_path/'in.parquet')
    monkeypatch.setenv('MLFLOW_TRACKING_URI', f'postgresql://housing:s3cret@127.0.0.1:{free_port()}/mlflow')
    err = fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', contains='postgresql://***@127.0.0.1')
    assert 's3cret' not in err


def test_unknown_model_version(tmp_path, capsys, store_env):
    rows().to_parquet(tmp_path/'in.parquet')
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', '--model-uri', 'models:/california-housing/999',
          contains='models:/california-housing/999 not found')


def test_unreachable_spark_master(tmp_path, capsys, store_env):
    rows().to_parquet(tmp_path/'in.parquet')
    port = free_port()
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', '--engine', 'spark', '--master', f'spark://127.0.0.1:{port}',
          contains=f'Spark master spark://127.0.0.1:{port} is unreachable')


def test_malformed_spark_master(tmp_path, capsys, store_env):
    rows().to_parquet(tmp_path/'in.parquet')
    fails(capsys, tmp_path, tmp_path/'in.parquet', tmp_path/'out.parquet', '--engine', 'spark', '--master', 'spark-master:7077',
          contains="--master 'spark-master:7077' is not a Spark master URL")


def test_output_over_the_input_is_refused(tmp_path, capsys, store_env):
    rows().to_csv(tmp_path/'in.csv', index=False)
    fails(capsys, tmp_path, tmp_path/'in.csv', tmp_path/'in.csv', contains='must not overwrite the input')


def test_console_script_exits_non_zero(tmp_path):
    from score_support import run_housing
    code, out, err = run_housing('score', tmp_path/'none.parquet', tmp_path/'out.parquet')
    assert code == 2 and err.strip() == f"housing score: error: {tmp_path/'none.parquet'}: file not found; expected a Parquet or CSV file with the columns {', '.join(FEATURES)}"
    assert not list(tmp_path.iterdir())
