"""The gate: `housing promote` moves the champion only to a better, behaving version that does not lose its shadow test;
every move is recorded; `housing rollback` undoes the last one."""
import numpy as np

from promotion_support import write_labelled_log
from housing.config import MODEL_NAME
from housing.promotion import alias_history, promote
from housing.tracking import describe_model, load_model


def champion(uri: str) -> str:
    return describe_model(f'models:/{MODEL_NAME}@champion', uri).version


def test_a_first_store_gets_its_champion_through_the_gate_even_when_it_is_the_unclipped_linear_baseline(store, cli):
    uri = store('linear-only.db')
    r = cli(uri, 'promote')
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('champion -> version 1') and 'behavioural checks pass' in r.stdout
    assert champion(uri) == '1'
    (move,) = alias_history(tracking_uri=uri)
    assert (move['alias'], move['from'], move['to']) == ('champion', None, '1') and 'behavioural checks pass' in move['why']


def test_promote_moves_to_a_better_version_once_and_records_when_from_to_and_why(store, cli):
    uri = store(champion='1')
    r = cli(uri, 'promote')
    assert r.returncode == 0, r.stderr
    assert champion(uri) == '2'
    move = alias_history(tracking_uri=uri)[-1]
    assert (move['from'], move['to']) == ('1', '2') and move['ts'] > 0
    assert "cv_rmse_mean" in move['why'] and "< the champion's" in move['why']
    again = cli(uri, 'promote')
    assert again.returncode == 0 and 'it is the champion already' in again.stdout
    assert len(alias_history(tracking_uri=uri)) == 2  # nothing moved, nothing recorded


def test_a_shadow_test_the_champion_wins_keeps_the_champion_though_cv_prefers_the_candidate(store, cli, housing_frame, tmp_path):
    uri = store(champion='1')
    from housing.data import FEATURES, TARGET
    rows = housing_frame.sample(400, random_state=3)
    X, y = rows[FEATURES].to_numpy(), rows[TARGET].to_numpy()
    rng = np.random.default_rng(0)
    log = write_labelled_log(tmp_path/'predictions.db', X, y, champion=('1', y + rng.normal(0, 0.2, len(y))),
                             shadow=('2', y + rng.normal(0, 0.8, len(y))))  # on live traffic, version 2 did much worse
    r = cli(uri, 'promote', log=log)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'not promoted (champion stays 1)' in r.stdout and 'shadow test on 400 labelled rows: champion better' in r.stdout
    assert champion(uri) == '1' and len(alias_history(tracking_uri=uri)) == 1


def test_a_shadow_test_the_candidate_wins_lets_it_through(store, housing_frame, tmp_path):
    uri = store(champion='1')
    from housing.data import FEATURES, TARGET
    rows = housing_frame.sample(400, random_state=4)
    X, y = rows[FEATURES].to_numpy(), rows[TARGET].to_numpy()
    champ, cand = (load_model(f'models:/{MODEL_NAME}/{v}', uri).pipeline.predict(rows[FEATURES]) for v in '12')
    log = write_labelled_log(tmp_path/'predictions.db', X, y, champion=('1', champ), shadow=('2', cand))  # the real predictions
    d = promote(tracking_uri=uri, prediction_log=log)
    assert d.promote and d.reasons[-1] == 'shadow test on 400 labelled rows: challenger better'
    assert champion(uri) == '2'


def test_a_version_that_misbehaves_is_passed_over_and_the_decision_says_why(store, housing_frame):
    "Version 3: a real linear model fitted with extra rows priced in the wrong unit, its recorded CV RMSE the best of all"
    uri = store(champion='1')
    from housing import train
    from housing.data import TARGET
    extra = housing_frame.sample(3000, random_state=5)
    result = train.fit_evaluate('linear', {}, seed=42, cv_folds=0, data=housing_frame, extra=extra.assign(**{TARGET: extra[TARGET] * 100}))
    result.metrics['cv_rmse_mean'] = 0.01  # ranks first: only the behavioural checks stand in its way
    train.start_run('linear', uri, 'promotion-tests'); assert train.log_result(result) == '3'; train.end_run()
    d = promote(tracking_uri=uri)
    assert d.reasons[0].startswith('version 3 (linear) passed over: ') and 'of predictions lie outside 0.14..5.01' in d.reasons[0]
    assert d.promote and d.candidate == '2' and champion(uri) == '2'


def test_rollback_puts_the_previous_champion_back_in_one_command(store, cli):
    uri = store(champion='1')
    assert cli(uri, 'promote').returncode == 0 and champion(uri) == '2'
    r = cli(uri, 'rollback')
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('champion -> version 1 (was 2): rollback from version 2')
    assert champion(uri) == '1'
    assert [(m['from'], m['to']) for m in alias_history(tracking_uri=uri)] == [(None, '1'), ('1', '2'), ('2', '1')]
