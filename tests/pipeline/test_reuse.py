"""No duplicated work, same numbers: shared feature steps, out-of-fold predictions and members reused from their runs give
exactly what a from-scratch computation gives; the stacked model learns its weights out of fold and loads with skops."""
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_predict

from housing import train
from housing.crossval import FeatureCache, fit_pipeline, out_of_fold
from housing.ensembles import MemberPredictions, evaluate_ensemble
from housing.errors import ConflictError
from housing.models import check_trusted, make_model
from housing.runcache import find_members, load_member, run_key, tag_run

SMALL = {'lightgbm_geo': {'n_estimators': 40}, 'xgboost_geo': {'n_estimators': 40}, 'catboost_geo': {'iterations': 40}}
FOLDS, SEED = 3, 42


@pytest.fixture(scope='module')
def data(housing_frame):
    from housing.data import split_train_test
    X, X_test, y, _ = split_train_test(housing_frame.sample(4000, random_state=3), seed=SEED)
    return X, y, X_test


@pytest.fixture(scope='module')
def members(data, tmp_path_factory):
    """Each small geographic member cross-validated and fitted once, sharing one feature cache."""
    X, y, X_test = data
    cache = FeatureCache(tmp_path_factory.mktemp('features'))
    out = []
    for name, p in SMALL.items():
        oof = out_of_fold(name, p, X, y, FOLDS, SEED, cache)
        pipe, test = fit_pipeline(make_model(name, p), X, y, X_test, cache)
        out.append(MemberPredictions(name, oof, test, pipe))
    assert cache.misses == FOLDS + 1 and cache.hits == 2 * (FOLDS + 1)  # features computed once per fold, then read
    return out


def test_shared_features_give_the_numbers_of_a_from_scratch_pipeline(members, data):
    X, y, X_test = data
    for m in members:
        scratch = cross_val_predict(make_model(m.name, SMALL[m.name]), X, y, cv=KFold(FOLDS, shuffle=True, random_state=SEED))
        np.testing.assert_array_equal(m.oof.prediction, scratch)
        np.testing.assert_array_equal(m.test, make_model(m.name, SMALL[m.name]).fit(X, y).predict(X_test))
        np.testing.assert_array_equal(m.pipeline.predict(X_test), m.test)


def test_blend_from_stored_predictions_equals_a_from_scratch_blend(members, data):
    X, y, X_test = data
    two = [m for m in members if m.name in ('lightgbm_geo', 'catboost_geo')]
    pipe, oof, test, weights = evaluate_ensemble('blend', two, y, FOLDS, SEED, X_probe=X_test.iloc[:100])
    params = {f'{m.name}__{k}': v for m in two for k, v in SMALL[m.name].items()}
    scratch = make_model('blend', params)
    np.testing.assert_array_equal(oof.prediction, cross_val_predict(scratch, X, y, cv=KFold(FOLDS, shuffle=True, random_state=SEED)))
    np.testing.assert_array_equal(test, scratch.fit(X, y).predict(X_test))
    np.testing.assert_array_equal(pipe.predict(X_test), test)
    assert [s for s, _ in pipe.steps] == ['ratios', 'geo', 'neighbours', 'model']  # one shared copy of the feature steps
    assert weights == {'lightgbm_geo': 0.5, 'catboost_geo': 0.5}


def test_stacked_weights_are_nested_and_its_model_loads_with_skops(members, data):
    X, y, X_test = data
    pipe, oof, test, weights = evaluate_ensemble('stacked', members, y, FOLDS, SEED, X_probe=X_test.iloc[:100])
    P = np.column_stack([m.oof.prediction for m in members]); fold = members[0].oof.fold
    for k in range(FOLDS):  # fold k's rows are predicted with weights fitted on the other folds only
        lr = LinearRegression(positive=True).fit(P[fold != k], y[fold != k])
        np.testing.assert_allclose(oof.prediction[fold == k], lr.predict(P[fold == k]), rtol=1e-12)
    lr = LinearRegression(positive=True).fit(P, y)
    scratch = np.column_stack([make_model(m.name, SMALL[m.name]).fit(X, y).predict(X_test) for m in members]) @ lr.coef_ + lr.intercept_
    np.testing.assert_allclose(test, scratch, rtol=1e-12)
    np.testing.assert_allclose(pipe.predict(X_test), test, rtol=1e-12)
    assert all(v >= 0 for k, v in weights.items() if k != 'intercept')
    blob = sio.dumps(pipe)
    loaded = sio.loads(blob, trusted=check_trusted(sio.get_untrusted_types(data=blob)))
    np.testing.assert_array_equal(loaded.predict(X_test), pipe.predict(X_test))


def test_members_on_other_folds_are_refused(members, data):
    X, y, _ = data
    other = out_of_fold('linear', None, X, y, FOLDS, SEED + 1)
    moved = MemberPredictions('linear', other, members[0].test, members[0].pipeline)
    with pytest.raises(ConflictError, match='other folds'):
        evaluate_ensemble('blend', [members[0], moved], y, FOLDS, SEED)


def test_a_member_reused_from_its_run_equals_the_computed_one(housing_frame, tmp_path):
    uri = f"sqlite:///{tmp_path/'mlflow.db'}"
    df = housing_frame.sample(3000, random_state=5)
    run = train.start_run('lightgbm_geo', uri, 'reuse')
    result = train.fit_evaluate('lightgbm_geo', SMALL['lightgbm_geo'], cv_folds=FOLDS, data=df)
    train.log_result(result, register=False); train.end_run()
    key, parts = run_key('lightgbm_geo', {'cv_folds': FOLDS}, result.data_sha256)
    tag_run(run.info.run_id, key, parts, uri)
    assert find_members('blend', {'cv_folds': FOLDS}, result.data_sha256, uri, 'reuse') == {'lightgbm_geo': run.info.run_id, 'catboost_geo': None}
    m = load_member('lightgbm_geo', run.info.run_id, uri)
    np.testing.assert_array_equal(m.oof.prediction, result.oof.prediction)
    np.testing.assert_array_equal(m.test, result.y_pred)
    assert m.oof.fold_sha256 == result.oof.fold_sha256
    np.testing.assert_array_equal(m.pipeline.predict(result.X_test), result.y_pred)


def test_an_ensemble_trains_missing_members_itself_and_scores_like_its_parts(housing_frame, tmp_path):
    df = housing_frame.sample(2500, random_state=6)
    cache = FeatureCache(tmp_path)
    r = train.fit_evaluate('linear', cv_folds=FOLDS, data=df, cache=cache)
    assert r.oof is not None and r.metrics['cv_rmse_mean'] == pytest.approx(np.mean(r.oof.scores))
    with pytest.raises(ValueError, match='no parameters of its own'):
        train.fit_evaluate('blend', {'lightgbm_geo__n_estimators': 5}, cv_folds=FOLDS, data=df)
