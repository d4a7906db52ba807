"""The trust boundary: credentials never leave the server, admin closed by default, a warning when exposed without a key."""
import logging

import pytest

from housing.validation import EXAMPLE_ROW

SECRET_URI = 'postgresql://user:password@127.0.0.1:9/db'


def test_a_tracking_store_secret_never_reaches_a_client(make_client, caplog):
    caplog.set_level(logging.WARNING)
    c = make_client(model=None, tracking_uri=SECRET_URI, model_uri='models:/california-housing@champion', admin_token='adm')
    answers = [c.get('/health'), c.get('/ready'), c.get('/model/info'), c.get('/metrics'), c.post('/predict', json=EXAMPLE_ROW),
               c.post('/model/reload', headers={'Authorization': 'Bearer adm'})]
    assert [r.status_code for r in answers] == [200, 503, 503, 200, 503, 503]
    for r in answers: assert 'user:password' not in r.text and ':password@' not in r.text, r.text[:300]
    assert '***@127.0.0.1' in c.get('/ready').json()['detail'] or 'could not be served' in c.get('/ready').json()['detail']
    assert ':password@' not in caplog.text  # the server log gets the masked form too


def test_a_model_uri_with_credentials_is_masked_in_info_metrics_and_reload(make_client, loaded_model):
    import dataclasses
    secret = dataclasses.replace(loaded_model, uri='models:/california-housing@champion?token=x', metadata=loaded_model.metadata)
    secret = dataclasses.replace(secret, uri='http://user:password@registry/models/california-housing/1')
    c = make_client(model=secret)
    for path in ('/model/info', '/metrics', '/ready', '/health'):
        text = c.get(path).text
        assert ':password@' not in text, path
    assert c.get('/model/info').json()['uri'] == 'http://***@registry/models/california-housing/1'


def test_environment_mismatches_of_the_loader_are_shown(make_client, loaded_model):
    import dataclasses
    from housing.tracking import LoadedModel
    fields = {f.name: getattr(loaded_model, f.name) for f in dataclasses.fields(LoadedModel)}
    model = type('WithMismatches', (), {**fields, 'environment_mismatches': ['scikit-learn 1.5 logged, 1.7 installed']})()
    c = make_client(model=model)
    assert c.get('/model/info').json()['environment_mismatches'] == ['scikit-learn 1.5 logged, 1.7 installed']
    assert c.get('/ready').json()['environment_mismatches'] == ['scikit-learn 1.5 logged, 1.7 installed']


@pytest.mark.parametrize('host,warned', [('0.0.0.0', True), ('192.168.1.5', True), ('127.0.0.1', False), ('::1', False),
                                         ('localhost', False)])
def test_serving_beyond_loopback_without_an_api_key_warns(host, warned, caplog, monkeypatch):
    "`serve` checks before it starts uvicorn (which is replaced here: the test binds nothing)"
    import uvicorn
    from housing import api
    monkeypatch.setattr(uvicorn, 'run', lambda *a, **k: None)
    caplog.set_level(logging.WARNING, logger='uvicorn.error')
    api.serve(host=host, port=1)
    assert ('without HOUSING_API_KEY' in caplog.text) == warned
    caplog.clear()
    api.serve(host=host, port=1, api_key='k')
    assert 'without HOUSING_API_KEY' not in caplog.text
