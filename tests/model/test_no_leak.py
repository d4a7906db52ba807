"""No-leak tests of the neighbour-price features: a training row never sees its own price, and shuffling the
training targets destroys the gain they bring."""
import numpy as np
import pandas as pd
import pytest

from housing.data import FEATURES
from housing.geo import NeighbourPrices


@pytest.fixture(scope='module')
def train_part(split):
    X_train, _, y_train, _ = split
    return X_train[FEATURES].to_numpy(), y_train.to_numpy()


def test_a_training_row_never_sees_its_own_price(train_part):
    X, y = train_part
    before = NeighbourPrices().fit_transform(X, y)
    for i in (0, 1234, len(X) - 1):
        y2 = y.copy(); y2[i] = 50.0  # an absurd price
        after = NeighbourPrices().fit_transform(X, y2)
        np.testing.assert_array_equal(after[i], before[i])          # its own features do not move
        assert (after != before).any(axis=1).sum() >= 5             # its neighbours' do


def test_cross_fitted_features_carry_no_information_about_shuffled_targets(train_part):
    X, y = train_part
    shuffled = np.random.default_rng(0).permutation(y)
    nb = NeighbourPrices(ks=(5,), local_ks=(), views=False)  # one block: the leaky way below is plain transform
    cross_fitted = nb.fit_transform(X, shuffled)[:, 8]               # nb5_price, out of fold
    in_sample = nb.transform(X)[:, 8]                                # the leaky way: each row among its own neighbours
    r_cross = np.corrcoef(cross_fitted, shuffled)[0, 1]
    r_leak = np.corrcoef(in_sample, shuffled)[0, 1]
    assert abs(r_cross) < 0.03, r_cross
    assert r_leak > 0.3, r_leak                                      # the check would catch a leak
    r_true = np.corrcoef(nb.fit_transform(X, y)[:, 8], y)[0, 1]
    assert r_true > 0.7, r_true                                      # with real prices the feature is strong


def test_shuffling_the_training_targets_destroys_the_gain(split):
    from housing.train import cross_validate_rmse
    X_train, _, y_train, _ = split
    X, y = X_train.iloc[:6000], y_train.iloc[:6000]
    small = {'n_estimators': 150, 'learning_rate': 0.1}
    real, _ = cross_validate_rmse('lightgbm_geo', small, X, y, folds=3)
    assert real < 0.5 * y.std(), (real, y.std())                     # real targets: most of the variance is explained
    shuffled = pd.Series(np.random.default_rng(1).permutation(y.to_numpy()), index=y.index)
    noise, _ = cross_validate_rmse('lightgbm_geo', small, X, shuffled, folds=3)
    assert noise > 0.98 * shuffled.std(), (noise, shuffled.std())    # shuffled targets: no better than the mean
