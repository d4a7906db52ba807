"""Helpers for the delivery tests: read Dockerfiles and the compose file, run a container's entry command as a plain process."""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT/'docker'
VENV = Path(sys.executable).parent.parent  # stands in for the images' /opt/venv
COMPOSE = ROOT/'docker-compose.yml'


# ---- Dockerfiles -------------------------------------------------------------------------------------------------

@dataclass
class Stage:
    "One `FROM ... AS name` stage and its instructions, in order"
    name: str
    base: str
    instructions: list = field(default_factory=list)  # (KEYWORD, rest of the line)


def _logical_lines(text: str) -> list[str]:
    "Instructions with `\\` continuations joined; comments and blank lines dropped"
    out, cur = [], ''
    for raw in text.splitlines():
        line = raw.strip()
        if not cur and (not line or line.startswith('#')): continue
        if cur and line.startswith('#'): continue  # a comment inside a continued instruction
        if line.endswith('\\'): cur += line[:-1] + ' '; continue
        out.append(cur + line); cur = ''
    if cur: out.append(cur)
    return out


def parse_dockerfile(path: Path) -> list[Stage]:
    "The stages of a Dockerfile, with global ARG defaults substituted into FROM"
    args, stages = {}, []
    for line in _logical_lines(Path(path).read_text()):
        keyword, _, rest = line.partition(' ')
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == 'ARG' and not stages:
            k, _, v = rest.partition('='); args[k] = v
        elif keyword == 'FROM':
            parts = rest.split()
            base = parts[0]
            for k, v in args.items(): base = base.replace('${' + k + '}', v).replace('$' + k, v)
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == 'AS' else str(len(stages))
            stages.append(Stage(name, base))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def _env_pairs(rest: str) -> dict:
    toks = shlex.split(rest)
    if toks and '=' not in toks[0]: return {toks[0]: ' '.join(toks[1:])}  # legacy `ENV KEY value`
    return dict(t.split('=', 1) for t in toks)


@dataclass
class Image:
    "What a target stage runs with: its bases (outermost last), env, user, workdir, healthcheck and command"
    chain: list
    env: dict
    user: str | None
    workdir: str | None
    healthcheck: dict | None  # {'options': {...}, 'cmd': [...]}
    cmd: list | None
    expose: list


def image_config(path: Path, target: str | None = None) -> Image:
    "Resolve `target` (default: the last stage) through the stages it is built FROM"
    stages = parse_dockerfile(path)
    by_name = {s.name: s for s in stages}
    stage = by_name[target] if target else stages[-1]
    chain = [stage]
    while chain[-1].base in by_name: chain.append(by_name[chain[-1].base])
    env, user, workdir, hc, cmd, expose = {}, None, None, None, None, []
    for st in reversed(chain):
        for kw, rest in st.instructions:
            if kw == 'ENV': env.update(_env_pairs(rest))
            elif kw == 'USER': user = rest
            elif kw == 'WORKDIR': workdir = rest
            elif kw == 'CMD': cmd = json.loads(rest)
            elif kw == 'EXPOSE': expose += rest.split()
            elif kw == 'HEALTHCHECK':
                opts, _, c = rest.partition('CMD ')
                hc = {'options': dict(o.lstrip('-').split('=', 1) for o in opts.split()), 'cmd': json.loads(c)}
    return Image([s.name for s in chain] + [chain[-1].base], env, user, workdir, hc, cmd, expose)


# ---- the compose file --------------------------------------------------------------------------------------------

def compose() -> dict:
    import yaml
    return yaml.safe_load(COMPOSE.read_text())


# ---- plain processes ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def container_env(image: Image, paths: dict, extra: dict | None = None) -> dict:
    """The image's ENV for a plain process: container paths mapped by `paths` (e.g. {'/app': tmp}), /opt/venv to
    this venv, PATH with the venv first; only the host's basics are inherited, as in a container."""
    paths = {'/opt/venv': str(VENV), **{k: str(v) for k, v in paths.items()}}
    env = {k: os.environ[k] for k in ('HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'PYTHONPATH', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE') if k in os.environ}
    for k, v in image.env.items():
        if k == 'PATH': v = v.replace('$PATH', os.environ.get('PATH', '/usr/bin:/bin'))
        for src in sorted(paths, key=len, reverse=True):  # whole path components only: /mlflow, not /mlflow.db
            v = re.sub(re.escape(src) + r'(?=/|:|$)', lambda _m, d=paths[src]: d, v)
        env[k] = v
    env.update(extra or {})
    return env


def loopback_command(cmd: list, port: int) -> list:
    "The image's command bound to 127.0.0.1 on `port` instead of every interface on its own port"
    out, i = [], 0
    while i < len(cmd):
        a = cmd[i]
        if a in ('--host', '--port') and i + 1 < len(cmd):
            out += [a, '127.0.0.1' if a == '--host' else str(port)]; i += 2; continue
        out.append(a); i += 1
    return out


class Process:
    "A started process whose output goes to a log file; `stop()` ends its own process group only"
    def __init__(self, cmd: list, env: dict, log: Path, cwd: Path | None = None):
        self.cmd, self.log_path = cmd, log
        self._log = open(log, 'wb')  # kept open for the life of the process
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors='replace')[-4000:]

    def alive(self) -> bool: return self.proc.poll() is None

    def stop(self):
        if self.alive():
            try: os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError: pass
            try: self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL); self.proc.wait(5)
        self._log.close()


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 10):
    "(status, text) of one loopback request; HTTP errors are answers, not exceptions"
    assert url.startswith('http://127.0.0.1:'), url
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={'Content-Type': 'application/json', **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, e.read().decode()


def wait_for(url: str, proc: Process, timeout: float, want: int = 200, headers: dict | None = None) -> tuple[int, str]:
    "Poll `url` until it answers `want` (bounded); fail with the process's output if it dies or never does"
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if not proc.alive(): raise AssertionError(f'{proc.cmd} exited with {proc.proc.returncode}:\n{proc.output()}')
        try:
            last = http('GET', url, headers=headers, timeout=5)
            if last[0] == want: return last
        except OSError as e: last = (None, repr(e))
        time.sleep(0.5)
    raise AssertionError(f'{url} did not answer {want} within {timeout:.0f} s (last: {last}); output of {proc.cmd}:\n{proc.output()}')


def healthcheck_command(image: Image, port: int) -> list:
    "The image's HEALTHCHECK command pointed at `port` on the loopback"
    return [a.replace(f':{image.expose[0]}/', f':{port}/') for a in image.healthcheck['cmd']]


def run_healthcheck(image: Image, port: int, env: dict) -> int:
    "Exit code of the image's HEALTHCHECK command run as a plain process (0 = healthy)"
    cmd = healthcheck_command(image, port)
    timeout = float(image.healthcheck['options'].get('timeout', '5s').rstrip('s')) + 5
    return subprocess.run(cmd, env=env, capture_output=True, timeout=timeout).returncode


def start_api(tmp_path_factory, target: str, paths: dict, extra_env: dict, name: str, ready: bool = True):
    "docker/Dockerfile.api's `target` command on a loopback port: (base URL, Process, image, env)"
    image = image_config(DOCKER/'Dockerfile.api', target)
    app = tmp_path_factory.mktemp(name)
    (app/'logs').mkdir()
    env = container_env(image, {'/app': app, **paths}, extra_env)
    port = free_port()
    proc = Process(loopback_command(image.cmd, port), env, app/'serve.log', cwd=app)
    url = f'http://127.0.0.1:{port}'
    try:
        wait_for(f'{url}/health', proc, timeout=120)  # the app loads its model before it answers anything
        if ready:
            status, body = http('GET', f'{url}/ready')
            assert status == 200, f'{target}: /ready answered {status}: {body}\n{proc.output()}'
    except BaseException: proc.stop(); raise
    return url, proc, image, env
