# Sourced by `make test`: makes sure PostgreSQL and Redis run, exporting the URLs the tests use.
# Installs them from Debian's packages when missing and we may (root with apt-get).
# shellcheck shell=bash

_gc_log() { echo "test-services: $*" >&2; }

_gc_apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    _gc_log "cannot install $* (not root or no apt-get)"; return 1
  fi
  if [ -z "${_GC_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null && _GC_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

_gc_postgres() {
  command -v pg_ctlcluster >/dev/null || _gc_apt_install postgresql || return 1
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -n 1)
  [ -n "$version" ] || { _gc_log "no PostgreSQL cluster found"; return 1; }
  pg_ctlcluster "$version" main start 2>/dev/null || true
  for _ in $(seq 1 30); do
    runuser -u postgres -- pg_isready -q -h 127.0.0.1 && break
    sleep 0.5
  done
  runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='graphchat'" | grep -q 1 ||
    runuser -u postgres -- psql -qc "CREATE ROLE graphchat LOGIN SUPERUSER PASSWORD 'graphchat'"
  export GRAPHCHAT_TEST_POSTGRES_URL="postgresql://graphchat:graphchat@127.0.0.1:5432/postgres"
  export GRAPHCHAT_TEST_REQUIRE_POSTGRES=1
}

_gc_redis() {
  command -v redis-server >/dev/null || _gc_apt_install redis-server || return 1
  local port=${GRAPHCHAT_TEST_REDIS_PORT:-6390}
  redis-cli -p "$port" ping >/dev/null 2>&1 ||
    redis-server --daemonize yes --port "$port" --save '' --appendonly no >/dev/null
  export GRAPHCHAT_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
}

_gc_chromium() {
  command -v chromium >/dev/null || _gc_apt_install chromium || return 1
  export GRAPHCHAT_TEST_CHROMIUM=$(command -v chromium)
}

# wrk, the C load generator of bench turn's throughput levels (and of its own test).
_gc_wrk() {
  command -v wrk >/dev/null || _gc_apt_install wrk
}

# docker-compose 1.x validates docker-compose.yml (`docker-compose config`) without a Docker engine.
_gc_compose() {
  command -v docker-compose >/dev/null || _gc_apt_install --no-install-recommends docker-compose
}

if [ -z "${GRAPHCHAT_TEST_POSTGRES_URL:-}" ]; then
  _gc_postgres || _gc_log "PostgreSQL unavailable: its tests will be skipped"
fi
if [ -z "${GRAPHCHAT_TEST_REDIS_URL:-}" ]; then
  _gc_redis || _gc_log "Redis unavailable: its tests will be skipped"
fi
_gc_compose || _gc_log "docker-compose unavailable: the compose validation test will be skipped"
_gc_wrk || _gc_log "wrk unavailable: its test is skipped, bench turn loads with its Python client"
if [ -z "${GRAPHCHAT_TEST_CHROMIUM:-}" ]; then
  _gc_chromium || _gc_log "Chromium unavailable: browser tests will be skipped"
fi
