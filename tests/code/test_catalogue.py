"""Code tests: the model catalogue builds, validates parameters and round-trips through skops."""
import numpy as np
import pytest

from housing.models import CATALOGUE, ModelConfigError, make_model, model_params, trusted_types


def test_catalogue_has_the_required_models():
    assert {'linear', 'random_forest', 'gradient_boosting', 'hist_gradient_boosting', 'lightgbm'} <= set(CATALOGUE)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ModelConfigError) as e: make_model('rfx')
    for name in CATALOGUE: assert name in str(e.value)


def test_unknown_parameter_lists_valid_parameters():
    with pytest.raises(ModelConfigError, match="unknown parameter 'n_trees'.*n_estimators"):
        make_model('random_forest', {'n_trees': 10})


def test_any_estimator_parameter_overrides_the_default():
    assert make_model('lightgbm', {'num_leaves': 7}).named_steps['model'].num_leaves == 7
    assert make_model('lightgbm').named_steps['model'].num_leaves == CATALOGUE['lightgbm'].defaults['num_leaves']
    assert make_model('random_forest', {'model__max_depth': 3}).named_steps['model'].max_depth == 3


@pytest.mark.parametrize('name', list(CATALOGUE))
def test_each_model_fits_and_round_trips_through_skops(name, housing_frame):
    import skops.io as sio
    small = housing_frame.sample(1500, random_state=0)
    X, y = small.iloc[:, :8], small.iloc[:, 8]
    fast = {k: 20 for k in model_params(name) if k.split('__')[-1] in ('n_estimators', 'max_iter', 'iterations')}
    m = make_model(name, fast).fit(X, y)
    loaded = sio.loads(sio.dumps(m), trusted=trusted_types(m))
    rows = X.to_numpy()[:50]
    # identical up to the summation order of parallel tree averaging
    np.testing.assert_allclose(loaded.predict(rows), m.predict(X.iloc[:50]), rtol=1e-12, atol=0)
