#!/usr/bin/env bash
# The compose stack for real: install a container engine, build every image from docker/, start the stack,
# run tests/stack against it, tear it down -- cleaning up after itself even when a step fails.
#
#   docker/stack_test.sh            # all of it (what `make stack-test` and CI run)
#   docker/stack_test.sh engine     # only: install podman + podman-compose, make the base images
#   docker/stack_test.sh build      # engine, then build the images
#   docker/stack_test.sh up         # build, start the stack and train into it; leaves it running (then: `down`)
#   docker/stack_test.sh down       # remove the stack's containers, networks and volumes
#
# Needs root (apt-get, rootful podman). Where no container registry is reachable (these machines), the base images
# the Dockerfiles and the compose file name are built locally from Debian packages and tagged with those names.
#
# Environment (all optional):
#   HOUSING_STACK_WORK       work folder (tools venv, debootstrap rootfs, logs)     default /tmp/housing-stack
#   HOUSING_STACK_PROJECT    compose project name (isolates it from a user's stack)  default housing-stacktest
#   HOUSING_{MLFLOW,API,DASHBOARD,PROMETHEUS}_PORT   host ports on 127.0.0.1          default: free ports
#   HOUSING_TRAIN_MODELS     models the `train` job trains before `housing promote`   default linear
#   HOUSING_RAW_DATA         the raw data file mounted into the `train` job           default data/raw/cal_housing.data
#   HOUSING_STACK_KEEP=1     leave the stack running after the tests (no teardown)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=${HOUSING_STACK_WORK:-/tmp/housing-stack}
PROJECT=${HOUSING_STACK_PROJECT:-housing-stacktest}
PODMAN_COMPOSE_VERSION=1.6.0
PORT_VARS=(HOUSING_MLFLOW_PORT HOUSING_API_PORT HOUSING_DASHBOARD_PORT HOUSING_PROMETHEUS_PORT)
SERVICES=(postgres mlflow api dashboard prometheus)
mkdir -p "$WORK"
t0=$(date +%s)
# our own engine settings (see engine()), and health checks in the images (Docker's format keeps HEALTHCHECK)
export CONTAINERS_CONF="$WORK/containers.conf" BUILDAH_FORMAT=docker
PC=("$WORK/tools/bin/podman-compose" --project-name "$PROJECT" -f "$ROOT/docker-compose.yml")
say() { printf '[stack %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

# ---- the engine ---------------------------------------------------------------------------------------------------
engine() {
  local need=()
  for p in podman runc debootstrap curl; do command -v "$p" >/dev/null 2>&1 || need+=("$p"); done
  if [ ${#need[@]} -gt 0 ]; then
    say "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >"$WORK/apt.log"
  fi
  if [ ! -x "$WORK/tools/bin/podman-compose" ]; then
    say "podman-compose $PODMAN_COMPOSE_VERSION into $WORK/tools"
    python3 -m venv "$WORK/tools"
    "$WORK/tools/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION"
  fi
  # runc + cgroupfs (crun refuses these machines' hybrid cgroups, and there is no systemd), file event log, and
  # ulimits a container may set (the default nofile is above what the sandbox allows). Our own file, not /etc's.
  cat >"$WORK/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  base_images
}

# the base images the Dockerfiles and the compose file name: pulled when a registry answers, else built here
base_images() {
  local names=(docker.io/library/debian:bookworm-slim docker.io/library/python:3.11-slim-bookworm docker.io/prom/prometheus:v2.53.0)
  local missing=()
  for n in "${names[@]}"; do
    podman image exists "$n" && continue
    if timeout 60 podman pull -q "$n" >/dev/null 2>&1; then say "pulled $n"; else missing+=("$n"); fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "no registry for ${missing[*]}: building stand-ins from Debian packages"
  if ! podman image exists docker.io/library/debian:bookworm-slim; then
    local mirror
    mirror=$(grep -hoE '^URIs: *\S+/debian$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
    [ -n "$mirror" ] || mirror=$(grep -hoE '^deb +\S+/debian ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}' || true)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    rm -rf "$WORK/rootfs"
    say "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
      "$mirror" "$mirror" "$mirror" >"$WORK/rootfs/etc/apt/sources.list"
    # outbound HTTPS may be re-signed by the machine's own CA: pip in a build must trust it
    mkdir -p "$WORK/rootfs/usr/local/share/ca-certificates" "$WORK/rootfs/etc/ssl/certs"
    cp /usr/local/share/ca-certificates/*.crt "$WORK/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
    cp /etc/ssl/certs/ca-certificates.crt "$WORK/rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
    tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
    podman import -q --change 'CMD ["/bin/bash"]' "$WORK/rootfs.tar" docker.io/library/debian:bookworm-slim >/dev/null
    rm -rf "$WORK/rootfs" "$WORK/rootfs.tar"
  fi
  mkdir -p "$WORK/standin-python" "$WORK/standin-prometheus"
  cat >"$WORK/standin-python/Containerfile" <<'C'
FROM docker.io/library/debian:bookworm-slim
ENV LANG=C.UTF-8
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python-is-python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* && ln -s /usr/bin/python3 /usr/local/bin/python3 && ln -s /usr/bin/python3 /usr/local/bin/python
CMD ["python3"]
C
  cat >"$WORK/standin-prometheus/Containerfile" <<'C'
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends prometheus wget ca-certificates \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /prometheus /etc/prometheus && chown -R nobody:nogroup /prometheus /etc/prometheus \
 && ln -s /usr/bin/prometheus /bin/prometheus 2>/dev/null || true
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
C
  podman image exists docker.io/library/python:3.11-slim-bookworm ||
    { say "stand-in python:3.11-slim-bookworm"; podman build -q -t docker.io/library/python:3.11-slim-bookworm "$WORK/standin-python" >/dev/null; }
  podman image exists docker.io/prom/prometheus:v2.53.0 ||
    { say "stand-in prom/prometheus:v2.53.0"; podman build -q -t docker.io/prom/prometheus:v2.53.0 "$WORK/standin-prometheus" >/dev/null; }
}

# ---- the images ----------------------------------------------------------------------------------------------------
# The images are tagged with a digest of everything that goes into them (the Dockerfiles and the build context, which
# .dockerignore limits to an allowlist): a second run on the same machine with the same sources builds nothing. A clean
# machine (CI) builds them all. HOUSING_IMAGE_TAG, when given, is used as is (and always built).
IMAGES=(postgres mlflow api dashboard)
source_digest() {
  (cd "$ROOT" && find .dockerignore docker/Dockerfile.* docker/postgres-entrypoint.sh requirements/*.lock housing nbs/pipelines \
      settings.ini setup.py pyproject.toml README.md data/manifest.json -type f ! -name '*.pyc' ! -path '*/__pycache__/*' ! -path '*/.ipynb_checkpoints/*' -print0 |
    LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16
}

build() {
  engine
  local s svc
  if [ "${IMAGE_TAG_FROM_SOURCES:-0}" = 1 ]; then
    local have=1
    for svc in "${IMAGES[@]}"; do podman image exists "$(image_of "$svc")" || have=0; done
    if [ "$have" = 1 ]; then say "images for sources $HOUSING_IMAGE_TAG exist: nothing to build"; sizes; return 0; fi
  fi
  # one at a time: the api and dashboard builds share their first `pip install` layer (runtime.lock)
  for svc in "${IMAGES[@]}"; do
    s=$(date +%s)
    "${PC[@]}" build "$svc" >"$WORK/build-$svc.log" 2>&1 || { tail -40 "$WORK/build-$svc.log"; say "build $svc FAILED"; return 1; }
    say "built $svc in $(( $(date +%s) - s )) s"
  done
  if [ "${IMAGE_TAG_FROM_SOURCES:-0}" = 1 ]; then  # the images of older sources: untag them (shared layers stay)
    for svc in "${IMAGES[@]}"; do
      podman images --format '{{.Repository}}:{{.Tag}}' "localhost/$(image_of "$svc" | cut -d: -f1)" |
        grep -v ":$HOUSING_IMAGE_TAG\$" | grep ':src-' | xargs -r podman rmi >/dev/null 2>&1 || true
    done
  fi
  sizes
}

sizes() {
  local svc
  for svc in "${IMAGES[@]}"; do
    say "image $(image_of "$svc"): $(podman image inspect --format '{{.Size}}' "$(image_of "$svc")" | awk '{printf "%.0f MB", $1/1e6}')"
  done
}

image_of() { echo "${HOUSING_IMAGE_PREFIX:-housing}-$1:${HOUSING_IMAGE_TAG:-latest}"; }

# ---- the stack ----------------------------------------------------------------------------------------------------
# secrets for this run only, and host ports nothing else uses (unless given)
settings() {
  export HOUSING_POSTGRES_PASSWORD=${HOUSING_POSTGRES_PASSWORD:-$(python3 -c 'import secrets; print(secrets.token_hex(16))')}
  export HOUSING_ADMIN_TOKEN=${HOUSING_ADMIN_TOKEN:-$(python3 -c 'import secrets; print(secrets.token_hex(16))')}
  export HOUSING_API_KEY=${HOUSING_API_KEY:-$(python3 -c 'import secrets; print(secrets.token_hex(16))')}
  export HOUSING_TRAIN_MODELS=${HOUSING_TRAIN_MODELS:-linear}
  if [ -z "${HOUSING_IMAGE_TAG:-}" ]; then export HOUSING_IMAGE_TAG="src-$(source_digest)" IMAGE_TAG_FROM_SOURCES=1; fi
  if [ -z "${HOUSING_RAW_DATA:-}" ]; then export HOUSING_RAW_DATA="$ROOT/data/raw/cal_housing.data"; fi
  local v
  for v in "${PORT_VARS[@]}"; do
    [ -n "${!v:-}" ] || export "$v=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  done
  ( umask 077; for v in HOUSING_POSTGRES_PASSWORD HOUSING_ADMIN_TOKEN HOUSING_API_KEY HOUSING_TRAIN_MODELS HOUSING_RAW_DATA HOUSING_IMAGE_TAG "${PORT_VARS[@]}"; do
      printf 'export %s=%q\n' "$v" "${!v}"; done >"$WORK/stack.env" )  # `source` it to talk to a stack left up
  printf '%s\n' "HOUSING_STACK_PROJECT=$PROJECT" "HOUSING_RAW_DATA=$HOUSING_RAW_DATA" "HOUSING_TRAIN_MODELS=$HOUSING_TRAIN_MODELS" "HOUSING_IMAGE_TAG=$HOUSING_IMAGE_TAG" \
    "$(for v in "${PORT_VARS[@]}"; do printf '%s=%s ' "$v" "${!v}"; done)" | sed 's/^/[stack] /'
}

container_of() {  # the container of a compose service (running or not)
  podman ps -a -q --filter "label=io.podman.compose.project=$PROJECT" --filter "label=com.docker.compose.service=$1" | head -1
}

# podman runs no health checks by itself without systemd: run every running container's check on the images' interval
# (15 s), so `podman ps` shows a current health (the waits and the tests also run a check when they need its answer)
health_loop() {
  while true; do
    for c in $(podman ps -q --filter "label=io.podman.compose.project=$PROJECT" --filter status=running); do
      podman healthcheck run "$c" >/dev/null 2>&1 || true
    done
    sleep 15
  done
}

wait_healthy() {  # SERVICE TIMEOUT_S [STARTED_AT (unix s; default now)]: its start-up time is printed
  local c status since=${3:-$(date +%s)} deadline=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    c=$(container_of "$1")
    if [ -n "$c" ]; then
      podman healthcheck run "$c" >/dev/null 2>&1 || true
      status=$(podman inspect --format '{{.State.Health.Status}}' "$c" 2>/dev/null || true)
      [ "$status" = healthy ] && { say "$1 healthy $(( $(date +%s) - since )) s after its start"; return 0; }
    fi
    sleep 2
  done
  say "$1 not healthy after $2 s (status: ${status:-no container})"; podman logs --tail 60 "${c:-none}" 2>&1 || true
  return 1
}

# podman-compose does not wait for `condition: service_healthy`: start in dependency order, waiting for health
start() {
  local t
  t=$(date +%s); "${PC[@]}" up -d --no-build postgres >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; return 1; }
  wait_healthy postgres 120 "$t"
  t=$(date +%s); "${PC[@]}" up -d --no-build mlflow >>"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; return 1; }
  wait_healthy mlflow 300 "$t"
  t=$(date +%s); "${PC[@]}" up -d --no-build >>"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; return 1; }
  wait_healthy dashboard 300 "$t"
  wait_healthy prometheus 120 "$t"
  say "stack up (the API is healthy once a champion exists: after \`$0 train\`)"
}

train() {
  test -f "$HOUSING_RAW_DATA" || { echo "no raw data at $HOUSING_RAW_DATA (set HOUSING_RAW_DATA)" >&2; return 1; }
  local s; s=$(date +%s)
  "${PC[@]}" --profile train run --rm --no-deps train
  say "train job ($HOUSING_TRAIN_MODELS) done in $(( $(date +%s) - s )) s"
}

stop() { "${PC[@]}" down >"$WORK/down.log" 2>&1 || { cat "$WORK/down.log"; return 1; }; }  # volumes kept

down() {
  say "tearing the stack down (containers, networks, volumes)"
  "${PC[@]}" --profile train down -v >"$WORK/down.log" 2>&1 || true
  # whatever podman-compose missed, by this project's labels only
  podman ps -a -q --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman rm -f >/dev/null 2>&1 || true
  podman volume ls -q --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman volume rm -f >/dev/null 2>&1 || true
}

logs() {
  for svc in "${SERVICES[@]}"; do
    local c; c=$(container_of "$svc"); [ -n "$c" ] || continue
    echo "----- $svc (last 40 lines)"; podman logs --tail 40 "$c" 2>&1 || true
  done
}

HC=""  # the health-check loop's pid
finish() {
  local rc=$?
  [ -n "$HC" ] && kill "$HC" 2>/dev/null
  [ "$rc" = 0 ] || logs
  if [ "${HOUSING_STACK_KEEP:-0}" = 1 ]; then say "left running (HOUSING_STACK_KEEP=1): $0 down removes it"; else down; fi
  say "done (exit $rc)"
  exit "$rc"
}

all() {
  settings
  trap finish EXIT  # from here on, whatever fails: the stack is torn down (and its logs shown)
  trap 'exit 143' TERM INT
  build
  down  # a stack left over by an interrupted run
  health_loop & HC=$!
  start
  local py=${HOUSING_STACK_PYTHON:-$ROOT/.venv/bin/python}
  [ -x "$py" ] || py=python3
  say "tests/stack"
  HOUSING_STACK_TEST=1 HOUSING_STACK_SCRIPT="$0" HOUSING_STACK_WORK="$WORK" HOUSING_STACK_PROJECT="$PROJECT" \
    "$py" -m pytest -p no:cacheprovider -v -x -rxs --durations=0 tests/stack
}

# the steps after `up` talk to the stack that `up` (or `all`) started: its project, ports and secrets
if [ "${1:-all}" != all ] && [ -z "${HOUSING_ADMIN_TOKEN:-}" ] && [ -f "$WORK/stack.env" ]; then
  # shellcheck disable=SC1091
  . "$WORK/stack.env"
fi
case "${1:-all}" in
  all) all ;;
  engine) engine ;;
  build) settings; build ;;
  up) settings; build; start; train ;;
  # used by tests/stack (the environment carries the project, ports and secrets)
  start) start ;;
  stop) stop ;;
  train) train ;;
  down) down ;;
  logs) logs ;;
  *) echo "usage: $0 [all|engine|build|up|down]" >&2; exit 2 ;;
esac
