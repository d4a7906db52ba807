"""Behavioural tests of a trained geographic model (Made-With-ML's model tests): direction, range, invariance, baseline."""
import numpy as np

from housing.data import FEATURES, TARGET


def rmse(a, b): return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def test_higher_income_with_everything_else_fixed_does_not_lower_the_prediction_on_average(geo_model, split):
    X = split[1][FEATURES].to_numpy()[:1000]
    richer = X.copy(); richer[:, FEATURES.index('MedInc')] += 1.0   # +$10,000 median income
    diff = geo_model.predict(richer) - geo_model.predict(X)
    assert diff.mean() > 0.05, diff.mean()
    assert (diff >= 0).mean() > 0.8


def test_predictions_are_finite_and_within_the_training_target_range_for_every_row(geo_model, split, housing_frame):
    p = geo_model.predict(housing_frame[FEATURES].to_numpy())
    y_train = split[2]
    assert p.shape == (len(housing_frame),) and np.isfinite(p).all()
    assert p.min() >= y_train.min() and p.max() <= y_train.max()


def test_extreme_but_valid_rows_stay_in_range(geo_model, split):
    from housing.data import FEATURE_RULES
    base = split[1][FEATURES].to_numpy()[:20]
    for name in ('MedInc', 'AveRooms', 'Population', 'AveOccup'):
        for value in (FEATURE_RULES[name].high, FEATURE_RULES[name].low + 1e-3):
            X = base.copy(); X[:, FEATURES.index(name)] = value
            X[:, FEATURES.index('AveBedrms')] = np.minimum(X[:, FEATURES.index('AveBedrms')], X[:, FEATURES.index('AveRooms')])
            p = geo_model.predict(X)
            assert np.isfinite(p).all() and p.min() >= split[2].min() and p.max() <= split[2].max(), (name, value)


def test_one_row_at_a_time_gives_the_batch_predictions(geo_model, split):
    X = split[1][FEATURES].to_numpy()[:100]
    batch = geo_model.predict(X)
    single = np.array([geo_model.predict(r.reshape(1, -1))[0] for r in X])
    np.testing.assert_allclose(single, batch, rtol=1e-12)
    np.testing.assert_allclose(geo_model.predict(X[::-1]), batch[::-1], rtol=1e-12)  # order does not matter
    np.testing.assert_allclose(geo_model.predict(split[1].iloc[:100]), batch, rtol=1e-12)  # frame or array


def test_beats_a_location_only_baseline(geo_model, split):
    from sklearn.neighbors import KNeighborsRegressor
    X_train, X_test, y_train, y_test = split
    where = ['Latitude', 'Longitude']
    baseline = KNeighborsRegressor(10, weights='distance').fit(X_train[where], y_train)
    base_rmse = rmse(baseline.predict(X_test[where]), y_test)
    model_rmse = rmse(geo_model.predict(X_test[FEATURES].to_numpy()), y_test)
    assert model_rmse < base_rmse - 0.1, (model_rmse, base_rmse)
    assert model_rmse < 0.42, model_rmse  # even this small version of lightgbm_geo beats the published ~0.43 of plain boosting


def test_the_trained_champion_is_finite_on_every_row(trained_store, housing_frame):
    from housing.tracking import load_model
    lm = load_model(trained_store['model_uri'], trained_store['tracking_uri'])
    p = lm.pipeline.predict(housing_frame[FEATURES].to_numpy())
    assert np.isfinite(p).all() and abs(p.mean() - housing_frame[TARGET].mean()) < 0.1
