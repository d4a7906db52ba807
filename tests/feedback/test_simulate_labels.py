"""`simulate --labels`: the held-out rows' true prices follow the predictions, through POST /feedback or straight into the log."""
import numpy as np

from housing.labels import read_labelled
from housing.simulate import CONCEPT_REGION, PRICE_FACTOR, held_out_prices, in_region, simulate


def test_api_mode_posts_the_prices_after_the_predictions(server, reference, monkeypatch):
    monkeypatch.setenv('HOUSING_API_KEY', 'feedback-test-key')
    url = f'http://127.0.0.1:{server.port}'
    before = set(read_labelled(server.log).request_id)
    out = simulate(250, 'iid', api=url, seed=4, batch_size=100, reference=reference, quiet=True, labels=True, label_delay=0.2)
    assert out['labels'] == dict(sent=250, accepted=250, duplicates=0, refused={}), out
    got = read_labelled(server.log)
    new = got[~got.request_id.isin(before)]
    assert len(new) == 250 and (new.label_ts > new.ts).all()
    prices = held_out_prices(reference)  # every label is the true price of the row it was sent for
    truth = {tuple(np.round(x, 6)): y for x, y in zip(reference.X_test.to_numpy(), prices)}
    assert all(truth[tuple(np.round(r, 6))] == a for r, a in zip(new[reference.X_test.columns].to_numpy(), new.actual))


def test_direct_concept_shift_raises_one_regions_prices_only(tmp_path, reference):
    iid, shift = tmp_path/'iid.db', tmp_path/'shift.db'
    for path, scenario in ((iid, 'iid'), (shift, 'concept_shift')):
        out = simulate(1000, scenario, direct=True, seed=5, prediction_log=path, reference=reference, quiet=True, labels=True)
        assert out['labels']['accepted'] == 1000
    a, b = read_labelled(iid), read_labelled(shift)
    cols = list(reference.X_test.columns)
    assert np.array_equal(a[cols].to_numpy(), b[cols].to_numpy())  # the same features ...
    la = in_region(a, CONCEPT_REGION)
    assert 0.2 < la.mean() < 0.5
    assert np.allclose(np.minimum(a.actual[la] * PRICE_FACTOR, 5.00001), b.actual[la]) and np.array_equal(a.actual[~la], b.actual[~la])
