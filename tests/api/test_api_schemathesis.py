"""Schemathesis generates valid and invalid requests from the OpenAPI schema: no input may produce a server error.

Driven through schemathesis' Python API (its strategies under hypothesis) rather than its pytest plugin, whose lazy
fixture loading does not work with pytest 9.
"""
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from housing.api import create_app

EXAMPLES = 100  # per operation and mode
STATUSES: dict = {}


@pytest.fixture(scope='module')
def api_schema(loaded_model, tmp_path_factory):
    # an admin token keeps generated calls of /model/reload from reloading the model hundreds of times
    app = create_app(model=loaded_model, prediction_log=tmp_path_factory.mktemp('st')/'log.db', admin_token='not-guessable')
    yield schemathesis.openapi.from_asgi('/openapi.json', app)
    app.state.service.close()


def operations(schema):
    return {(op.method.upper(), op.path): op for op in (r.ok() for r in schema.get_all_operations())}


def test_the_schema_lists_every_route(api_schema):
    assert set(operations(api_schema)) == {('POST', '/predict'), ('POST', '/predict/batch'), ('GET', '/health'), ('GET', '/ready'),
                                           ('GET', '/metrics'), ('GET', '/model/info'), ('POST', '/model/reload'), ('POST', '/feedback')}


_VALID, _INVALID = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
CASES = [('POST', '/predict', _VALID), ('POST', '/predict', _INVALID), ('POST', '/predict/batch', _VALID),
         ('POST', '/predict/batch', _INVALID), ('GET', '/health', _VALID), ('GET', '/ready', _VALID), ('GET', '/metrics', _VALID),
         ('GET', '/model/info', _VALID), ('POST', '/model/reload', _VALID),  # routes without parameters admit no invalid input
         ('POST', '/feedback', _VALID), ('POST', '/feedback', _INVALID)]


@pytest.mark.parametrize('method,path,mode', CASES, ids=[f'{m} {p} {g.value}' for m, p, g in CASES])
def test_no_generated_request_is_a_server_error(api_schema, method, path, mode):
    op = operations(api_schema)[(method, path)]
    seen = Counter()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case):
        response = case.call()
        seen[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500 and 'Traceback' not in response.text

    check()
    assert sum(seen.values()) > 0 and all(s < 500 for s in seen)
    if path.startswith('/predict'):
        assert any(400 <= s < 500 for s in seen) if mode == GenerationMode.NEGATIVE else True
    print(f'{method} {path} {mode.value}: {dict(seen)}')
