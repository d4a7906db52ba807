"""Data tests: the loader on the real file, on both sources, and on every kind of bad input."""
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from housing.data import (FEATURES, TARGET, DataError, DataMismatchWarning, content_hash, frame_problems,
                          load_housing, read_manifest, split_train_test)

GOOD = '-122.23,37.88,41.0,880.0,129.0,322.0,126.0,8.3252,452600.0\n-122.22,37.86,21.0,7099.0,1106.0,2401.0,1138.0,8.3014,358500.0\n'


def write(tmp_path, text, name='cal_housing.data'):
    p = tmp_path/name
    p.write_text(text)
    return p


def test_real_data_matches_manifest(housing_frame):
    m = read_manifest()
    assert housing_frame.shape == tuple(m['shape']) == (20640, 9)
    assert content_hash(housing_frame) == m['sha256']
    assert list(housing_frame.columns) == FEATURES + [TARGET]


def test_every_real_row_obeys_the_business_rules(housing_frame):
    assert frame_problems(housing_frame) == []


def test_sklearn_downloader_gives_the_same_frame(tmp_path, monkeypatch, raw_data_path):
    """Run scikit-learn's own fetch code on an archive of the same file (only the network call is replaced)."""
    import sklearn.datasets._california_housing as ch
    archive = tmp_path/'src'/'cal_housing.tgz'
    archive.parent.mkdir()
    with tarfile.open(archive, 'w:gz') as t: t.add(raw_data_path, arcname='CaliforniaHousing/cal_housing.data')

    def fake_fetch(remote, dirname=None, **kw):
        dst = Path(dirname)/remote.filename
        dst.write_bytes(archive.read_bytes())
        return str(dst)
    monkeypatch.setattr(ch, '_fetch_remote', fake_fetch)
    monkeypatch.setenv('HOUSING_HOME', str(tmp_path))
    monkeypatch.delenv('HOUSING_RAW_DATA', raising=False)
    (tmp_path/'data').mkdir()
    df = load_housing(check=False)
    assert df.attrs['source'].startswith('sklearn')
    assert (tmp_path/'data'/'raw'/'cal_housing_py3.pkz').exists()  # cached under data/raw/
    assert content_hash(df) == read_manifest(Path(__file__).parents[2]/'data'/'manifest.json')['sha256']


def test_environment_variable_is_used(monkeypatch, tmp_path):
    p = write(tmp_path, GOOD)
    monkeypatch.setenv('HOUSING_RAW_DATA', str(p))
    with pytest.warns(DataMismatchWarning, match='differs from data/manifest.json'):
        df = load_housing()
    assert df.shape == (2, 9) and df.attrs['source'] == str(p)


@pytest.mark.parametrize('text,expected', [
    (None, 'file not found'),
    ('', 'file is empty'),
    ('\n\n', 'no data rows'),
    ('1,2,3\n4,5,6\n', 'line 1 has 3 fields, expected 9'),
    (GOOD + '-122.25,37.85,52.0,1274.0,235.0,558.0,219.0,5.6431,341300.0,EXTRA\n', 'line 3 has 10 fields, expected 9'),
    (GOOD + '\n-122.25,37.85,52.0,abc,235.0,558.0,219.0,5.6431,341300.0\n', "line 4, column totalRooms: 'abc' is not a number"),
    ('longitude,latitude,housingMedianAge,totalRooms,totalBedrooms,population,households,medianIncome,medianHouseValue\n' + GOOD,
     "line 1, column longitude: 'longitude' is not a number"),
    (GOOD + '-122.25,37.85,52.0,abc,235.0,558.0,219.0,5.6431,341300.0\n', "line 3, column totalRooms: 'abc' is not a number"),
    (GOOD + '-122.25,37.85,52.0,1274.0,,558.0,219.0,5.6431,341300.0\n', 'line 3, column totalBedrooms: value is missing'),
    (GOOD + '-122.25,37.85,52.0,1274.0,NaN,558.0,219.0,5.6431,341300.0\n', 'line 3, column totalBedrooms: value is missing'),
    (GOOD + '-122.25,37.85,52.0,1274.0,235.0,558.0,inf,5.6431,341300.0\n', 'line 3, column households: value is not finite'),
    (GOOD + '-122.25,37.85,52.0,1274.0,235.0,558.0,0,5.6431,341300.0\n', 'line 3, column households: must be > 0'),
    (GOOD + '-122.25,37.85,52.0,1274.0,-3,558.0,219.0,5.6431,341300.0\n', 'line 3, column totalBedrooms: must be >= 0'),
    (GOOD + '-122.25,47.85,52.0,1274.0,235.0,558.0,219.0,5.6431,341300.0\n', 'line 3: Latitude must be a finite number >= 32.5'),
    (GOOD + '-122.25,37.85,52.0,100.0,235.0,558.0,219.0,5.6431,341300.0\n', 'line 3: AveBedrms must be AveBedrms <= AveRooms'),
])
def test_bad_files_get_one_clear_error_naming_the_file(tmp_path, text, expected):
    p = tmp_path/'cal_housing.data' if text is None else write(tmp_path, text)
    with pytest.raises(DataError) as e:
        load_housing(p)
    msg = str(e.value)
    assert msg.startswith(str(p)), msg
    assert expected in msg, msg
    assert '\n' not in msg


def test_a_directory_or_binary_file_is_refused(tmp_path):
    with pytest.raises(DataError, match='is a directory'): load_housing(tmp_path)
    b = tmp_path/'x.data'; b.write_bytes(b'\xff\xfe\x00\x81' * 50)
    with pytest.raises(DataError, match=str(b)): load_housing(b)


def test_a_changed_value_changes_the_hash_and_warns(tmp_path, raw_data_path):
    lines = raw_data_path.read_text().splitlines()
    lines[10] = lines[10].replace('.', '.1', 1)
    p = write(tmp_path, '\n'.join(lines))
    with pytest.warns(DataMismatchWarning, match='sha256'):
        load_housing(p)


def test_official_data_loads_without_warning(raw_data_path):
    with warnings.catch_warnings():
        warnings.simplefilter('error', DataMismatchWarning)
        load_housing(raw_data_path)


def test_split_is_deterministic_80_20_and_seeded(housing_frame):
    a = split_train_test(housing_frame)
    b = split_train_test(housing_frame, seed=42)
    c = split_train_test(housing_frame, seed=7)
    assert (len(a[0]), len(a[1])) == (16512, 4128)
    assert a[0].index.equals(b[0].index) and np.array_equal(a[3], b[3])
    assert not a[0].index.equals(c[0].index)
    assert set(a[0].index).isdisjoint(a[1].index)


def _real_with_line_300(tmp_path, change):
    raw = Path(__import__('os').environ['HOUSING_RAW_DATA']).read_bytes().split(b'\n')
    raw[299] = change(raw[299])
    p = tmp_path/'cal_housing.data'; p.write_bytes(b'\n'.join(raw))
    return p


def test_an_extra_field_on_a_real_line_is_named_with_its_line_and_count(tmp_path):
    """`,1.0` appended to line 300 of the real CRLF file (after its CR, as a line-oriented tool does)."""
    p = _real_with_line_300(tmp_path, lambda line: line + b',1.0')
    with pytest.raises(DataError) as e: load_housing(p)
    assert 'line 300 has 10 fields, expected 9' in str(e.value), str(e.value)


def test_a_truncated_real_line_is_named_with_its_line_and_count(tmp_path):
    p = _real_with_line_300(tmp_path, lambda line: b','.join(line.split(b',')[:4]))
    with pytest.raises(DataError) as e: load_housing(p)
    assert 'line 300 has 4 fields, expected 9' in str(e.value), str(e.value)
