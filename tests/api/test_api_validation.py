"""Malformed and hostile input: always a 4xx that names the field and what was expected, never an echo, never a 5xx."""
import json

import numpy as np
import pytest
from pydantic import ValidationError

from housing.data import FEATURE_RULES, FEATURES, row_problems
from housing.validation import EXAMPLE_ROW, Features, validate_batch, validate_row

MARK = 987654.321  # a number that appears only in what the client sent
MARK_S = 'ECHO-7d1f'  # a string that appears only in what the client sent


def row(**changes) -> dict:
    return {**EXAMPLE_ROW, **changes}


def raw(obj) -> bytes:
    return json.dumps(obj).encode()


def without(field) -> dict:
    return {k: v for k, v in EXAMPLE_ROW.items() if k != field}


ROW = raw(EXAMPLE_ROW).decode()
DEEP = 50_000

# (case id, route, body bytes, content type, expected status, field the body must name (or None), strings that must not come back)
CASES = [
    ('missing field', '/predict', raw(without('MedInc')), 'application/json', 422, 'MedInc', []),
    ('extra field', '/predict', raw(row(Bedrooms=MARK)), 'application/json', 422, 'Bedrooms', ['987654']),
    ('hostile extra key', '/predict', raw(row(**{'<script>alert(1)</script>': 1})), 'application/json', 422, '<unexpected key>', ['script', 'alert']),
    ('null', '/predict', raw(row(MedInc=None)), 'application/json', 422, 'MedInc', []),
    ('NaN literal', '/predict', ROW.replace('41.0', 'NaN').encode(), 'application/json', 422, 'HouseAge', []),
    ('Infinity literal', '/predict', ROW.replace('6.984127', 'Infinity').encode(), 'application/json', 422, 'AveRooms', []),
    ('-Infinity literal', '/predict', ROW.replace('-122.23', '-Infinity').encode(), 'application/json', 422, 'Longitude', []),
    ('overflowing number', '/predict', ROW.replace('322.0', '1e400').encode(), 'application/json', 422, 'Population', ['1e400']),
    ('huge integer', '/predict', ROW.replace('322.0', '9' * 400).encode(), 'application/json', 422, 'Population', ['9999999999']),
    ('numeric string', '/predict', raw(row(MedInc='8.3252')), 'application/json', 422, 'MedInc', ['"8.3252"']),
    ('text', '/predict', raw(row(MedInc=MARK_S)), 'application/json', 422, 'MedInc', [MARK_S]),
    ('boolean true', '/predict', raw(row(HouseAge=True)), 'application/json', 422, 'HouseAge', []),
    ('boolean false', '/predict', raw(row(HouseAge=False)), 'application/json', 422, 'HouseAge', []),
    ('nested object', '/predict', raw(row(AveRooms={'value': MARK})), 'application/json', 422, 'AveRooms', ['987654']),
    ('array value', '/predict', raw(row(AveRooms=[MARK])), 'application/json', 422, 'AveRooms', ['987654']),
    ('swapped coordinates', '/predict', raw(row(Latitude=-122.23, Longitude=37.88)), 'application/json', 422, 'Latitude', ['-122.23', '37.88']),
    ('outside California', '/predict', raw(row(Latitude=45.5)), 'application/json', 422, 'Latitude', ['45.5']),
    ('negative income', '/predict', raw(row(MedInc=-MARK)), 'application/json', 422, 'MedInc', ['987654']),
    ('zero occupancy', '/predict', raw(row(AveOccup=0)), 'application/json', 422, 'AveOccup', []),
    ('negative zero income', '/predict', raw(row(MedInc=-0.0)), 'application/json', 422, 'MedInc', []),
    ('more bedrooms than rooms', '/predict', raw(row(AveBedrms=7.5)), 'application/json', 422, 'AveBedrms', ['7.5']),
    ('absurd population', '/predict', raw(row(Population=MARK * 1000)), 'application/json', 422, 'Population', ['987654']),
    ('body is an array', '/predict', raw([EXAMPLE_ROW]), 'application/json', 422, None, []),
    ('body is a string', '/predict', raw(MARK_S), 'application/json', 422, None, [MARK_S]),
    ('empty body', '/predict', b'', 'application/json', 422, None, []),
    ('truncated JSON', '/predict', ROW[:-10].encode(), 'application/json', 422, None, []),
    ('not JSON', '/predict', f'MedInc={MARK}'.encode(), 'application/json', 422, None, ['987654']),
    ('invalid UTF-8', '/predict', b'{"MedInc": \xff\xfe}', 'application/json', 422, None, []),
    ('deeply nested arrays', '/predict', b'[' * DEEP + b']' * DEEP, 'application/json', 422, None, []),
    ('deeply nested objects', '/predict', b'{"a":' * DEEP + b'1' + b'}' * DEEP, 'application/json', 422, None, []),
    ('huge body', '/predict', b'{"MedInc": ' + b' ' * (3 << 20) + b'1}', 'application/json', 413, None, []),
    ('text/plain', '/predict', raw(EXAMPLE_ROW), 'text/plain', 415, None, ['8.3252']),
    ('form-encoded', '/predict', f'MedInc={MARK}'.encode(), 'application/x-www-form-urlencoded', 415, None, ['987654']),
    ('multipart', '/predict', b'--x\r\n\r\n1\r\n--x--', 'multipart/form-data; boundary=x', 415, None, []),
    ('empty batch', '/predict/batch', raw({'instances': []}), 'application/json', 422, 'instances', []),
    ('oversized batch', '/predict/batch', raw({'instances': [EXAMPLE_ROW] * 1001}), 'application/json', 422, 'instances', []),
    ('instances not a list', '/predict/batch', raw({'instances': EXAMPLE_ROW}), 'application/json', 422, 'instances', ['8.3252']),
    ('no instances', '/predict/batch', raw({'rows': [EXAMPLE_ROW]}), 'application/json', 422, 'instances', ['8.3252']),
    ('bad batch row', '/predict/batch', raw({'instances': [EXAMPLE_ROW, row(Longitude=MARK)]}), 'application/json', 422, 'Longitude', ['987654']),
    ('batch row not an object', '/predict/batch', raw({'instances': [EXAMPLE_ROW, MARK]}), 'application/json', 422, None, ['987654']),
    ('batch cross rule', '/predict/batch', raw({'instances': [row(AveBedrms=MARK / 1000)]}), 'application/json', 422, 'AveBedrms', ['987.654']),
    ('batch as a bare list', '/predict/batch', raw([EXAMPLE_ROW]), 'application/json', 422, None, ['8.3252']),
]


def test_the_table_is_at_least_thirty_cases():
    assert len(CASES) >= 30 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize('name,route,body,ctype,status,field,secret', CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_a_named_4xx_without_echo(client, name, route, body, ctype, status, field, secret):
    r = client.post(route, content=body, headers={'content-type': ctype})
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers['content-type'] == 'application/json'
    detail = r.json()['detail']
    assert detail, r.text
    text = r.text
    for s in secret: assert s not in text, f'{s!r} echoed back: {text[:500]}'
    assert 'Traceback' not in text and '"input"' not in text
    if status == 422:
        assert all({'loc', 'field', 'msg', 'expected', 'type'} <= set(d) for d in detail)
        if field is not None:
            assert field in {d['field'] for d in detail}, detail
            if field in FEATURE_RULES:
                d = next(d for d in detail if d['field'] == field)
                assert field in d['msg'] and d['expected']  # what was wrong and what would be right
        if route == '/predict/batch' and field in FEATURE_RULES:
            assert detail[0]['row'] is not None and str(detail[0]['row']) in detail[0]['msg']


def test_chunked_bodies_are_limited_while_reading(client):
    def chunks():
        for _ in range(64): yield b' ' * 65536
    r = client.post('/predict', content=chunks(), headers={'content-type': 'application/json'})
    assert r.status_code == 413 and 'HOUSING_MAX_BODY_BYTES' in r.json()['detail']


def test_a_body_without_content_type_is_refused(client):
    "Strict: a body must say it is JSON"
    req = client.build_request('POST', '/predict', content=raw(EXAMPLE_ROW))
    assert 'content-type' not in req.headers
    r = client.send(req)
    assert r.status_code == 415 and 'application/json' in r.json()['detail']


@pytest.mark.parametrize('route,body,field,row', [
    ('/predict', ROW[:-1] + ', "MedInc": 15.0}', 'MedInc', None),
    ('/predict', ROW[:-1] + ', "Latitude": 37.0, "Latitude": 38.0}', 'Latitude', None),
    ('/predict/batch', '{"instances": [%s, %s]}' % (ROW, ROW[:-1] + ', "AveRooms": 6.0}'), 'AveRooms', 1),
    ('/predict/batch', '{"instances": [%s], "instances": [%s]}' % (ROW, ROW), 'instances', None)])
def test_a_repeated_json_key_is_a_422_naming_it(client, route, body, field, row):
    r = client.post(route, content=body.encode(), headers={'content-type': 'application/json'})
    assert r.status_code == 422, r.text
    (d,) = r.json()['detail']
    assert (d['field'], d['row'], d['type']) == (field, row, 'duplicate_key') and 'more than once' in d['msg']


def test_a_request_id_must_match_in_full(client):
    r = client.post('/predict', json=EXAMPLE_ROW, headers={'X-Request-ID': 'abc'})
    assert r.json()['request_id'] == 'abc'
    r = client.post('/predict', json=EXAMPLE_ROW, headers={'X-Request-ID': 'abc%0A'})
    assert r.json()['request_id'] != 'abc%0A'
    from housing.observe import request_id
    assert request_id(b'abc\n') != 'abc\n' and request_id(b'abc') == 'abc'


def test_validation_rules_are_the_data_rules(housing_frame):
    "Every one of the 20,640 real rows passes both validators, and the bounds are read from housing.data"
    X = housing_frame[FEATURES].to_numpy()
    for start in range(0, len(X), 1000):
        chunk = [dict(zip(FEATURES, map(float, r))) for r in X[start:start + 1000]]
        got = validate_batch(raw({'instances': chunk}))
        assert np.array_equal(got, X[start:start + 1000])
    for r in X:
        assert validate_row(raw(dict(zip(FEATURES, map(float, r))))) == list(map(float, r))
    schema = Features.model_json_schema()['properties']
    for f, rule in FEATURE_RULES.items():
        assert schema[f]['maximum'] == rule.high
        assert schema[f]['exclusiveMinimum' if rule.low_open else 'minimum'] == rule.low


@pytest.mark.parametrize('field', FEATURES)
def test_the_api_rejects_exactly_what_the_data_checks_reject(field):
    "Just inside and just outside each bound: the API agrees with housing.data.row_problems"
    rule = FEATURE_RULES[field]
    for value in (rule.low, np.nextafter(rule.low, -np.inf), np.nextafter(rule.low, np.inf), rule.high, np.nextafter(rule.high, np.inf)):
        r = row(**{field: float(value)})
        if field == 'AveBedrms': r['AveRooms'] = max(r['AveRooms'], float(value))
        if field == 'AveRooms': r['AveBedrms'] = min(r['AveBedrms'], float(value))
        data_ok = not row_problems(r)
        try: validate_row(raw(r)); api_ok = True
        except ValidationError: api_ok = False
        assert api_ok == data_ok, (field, value)
