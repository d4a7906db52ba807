"""The geographic models are deterministic for a given seed: same data, same parameters, same predictions."""
import numpy as np
import pytest

from housing.models import make_model

SMALL = {'lightgbm_geo': {'n_estimators': 50}, 'xgboost_geo': {'n_estimators': 50}, 'catboost_geo': {'iterations': 50},
         'blend': {'lightgbm_geo__n_estimators': 50, 'catboost_geo__iterations': 50}}


@pytest.mark.parametrize('name', list(SMALL))
def test_two_fits_give_identical_predictions(name, split):
    X_train, X_test, y_train, _ = split
    X, y = X_train.iloc[:4000], y_train.iloc[:4000]
    first = make_model(name, SMALL[name]).fit(X, y).predict(X_test.iloc[:300])
    second = make_model(name, SMALL[name]).fit(X, y).predict(X_test.iloc[:300])
    np.testing.assert_array_equal(first, second)


def test_another_seed_changes_the_clusters_and_folds(split):
    X_train, _, y_train, _ = split
    X, y = X_train.iloc[:4000], y_train.iloc[:4000]
    a = make_model('lightgbm_geo', {'n_estimators': 20}).fit(X, y)
    b = make_model('lightgbm_geo', {'n_estimators': 20, 'geo__random_state': 1, 'neighbours__random_state': 1}).fit(X, y)
    assert not np.array_equal(a.named_steps['geo'].centres_, b.named_steps['geo'].centres_)
