"""Delivery test: no credentials in the repository (and so none in an image built from it).

High-signal formats only (private keys, cloud and forge tokens): a hit is a leak to revoke, not a style issue.
API keys used by the tests are made up in the tests and named as such."""
import re
import subprocess

from delivery_support import ROOT

PATTERNS = {
    'private key': re.compile(r'-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----'),
    'AWS access key id': re.compile(r'\b(?:AKIA|ASIA)[0-9A-Z]{16}\b'),
    'GitHub token': re.compile(r'\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{60,}\b'),
    'Slack token': re.compile(r'\bxox[abprs]-[A-Za-z0-9-]{10,}\b'),
    'Google API key': re.compile(r'\bAIza[0-9A-Za-z_-]{35}\b'),
    'OpenAI-style key': re.compile(r'\bsk-(?:proj-)?[A-Za-z0-9]{32,}\b'),
    'credentials in a URL': re.compile(r'\b[a-z][a-z0-9+.-]*://[^/\s:@"\']+:(?P<password>[^/\s:@"\'$]{6,})@[^\s"\']+'),
}
# passwords that say they are placeholders: the docs and the masking tests show where credentials go in a URI
PLACEHOLDERS = {'password', 'secret', 's3cret', 'changeme'}


def _files() -> list:
    out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT/f for f in out.splitlines() if (ROOT/f).is_file() and (ROOT/f).stat().st_size < 5_000_000]


def test_no_credentials_are_committed():
    hits = []
    for path in _files():
        try: text = path.read_text()
        except UnicodeDecodeError: continue
        for what, rx in PATTERNS.items():
            for m in rx.finditer(text):
                if path.name == 'test_secrets.py': continue  # the patterns themselves
                password = m.groupdict().get('password') or ''
                if password.lower() in PLACEHOLDERS or password.startswith('{'): continue  # a placeholder or a {variable}
                hits.append(f'{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {what}')
    assert not hits, 'revoke and remove:\n' + '\n'.join(hits)


def test_local_state_that_may_hold_secrets_is_ignored_by_git():
    for path in ('.env', 'mlflow.db', 'logs/predictions.db', 'data/raw/cal_housing.data', 'mlartifacts/x'):
        r = subprocess.run(['git', 'check-ignore', '-q', path], cwd=ROOT)
        assert r.returncode == 0, f'{path} is not git-ignored'
