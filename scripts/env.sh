# Shared settings for the run and test scripts (sourced, not executed).
# Every value can be overridden from the environment; README "Configuration".
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PROJECT_ROOT
export VENV=${VENV:-$PROJECT_ROOT/.venv}
# The bridge's own environment (Python 3.13; scripts/bootstrap-bridge.sh).
export BRIDGE_VENV=${BRIDGE_VENV:-$PROJECT_ROOT/.venv-bridge}
export RUN_DIR=${RUN_DIR:-$PROJECT_ROOT/.run}
export MODELS_DIR=${MODELS_DIR:-$PROJECT_ROOT/models}

export RASA_PORT=${RASA_PORT:-5005}
export ACTION_PORT=${ACTION_PORT:-5055}
export ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:$ACTION_PORT/webhook}
export LOCAL_REDIS_PORT=${LOCAL_REDIS_PORT:-6380}
# The archive's project-local PostgreSQL (start_postgres), unless DATABASE_URL points elsewhere.
export LOCAL_POSTGRES_PORT=${LOCAL_POSTGRES_PORT:-5433}
export RASA_INTERFACE=${RASA_INTERFACE:-127.0.0.1}
# The action server is reached by Rasa alone (README "Which process faces the network").
export ACTION_INTERFACE=${ACTION_INTERFACE:-127.0.0.1}
export TRACKER_EXPIRY_SECONDS=${TRACKER_EXPIRY_SECONDS:-604800}
export HANDOFF_PORT=${HANDOFF_PORT:-8080}
# /metrics and /ready, on loopback only (docs/security.md).
export HANDOFF_ADMIN_PORT=${HANDOFF_ADMIN_PORT:-8081}
# Rasa pulls the deployed model from the bridge (endpoints.yml "models").
export MODEL_SERVER_URL=${MODEL_SERVER_URL:-http://127.0.0.1:$HANDOFF_PORT/api/models/current}
export TEACH_KEY_PREFIX=${TEACH_KEY_PREFIX:-teach}

# Rasa, TensorFlow and friends: no telemetry, no noise, no network.
export RASA_TELEMETRY_ENABLED=false
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
export HF_HUB_OFFLINE=1
export SQLALCHEMY_SILENCE_UBER_WARNING=1
# Rasa 3.6 and its pins import long-deprecated APIs; their warnings bury real output.
export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning}
export PYTHONPATH=$PROJECT_ROOT${PYTHONPATH:+:$PYTHONPATH}

ensure_package() {
  # ensure_package COMMAND DEBIAN_PACKAGE: install from Debian's archive if missing.
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "==> installing $2 (needs apt-get)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

redis_settings_from_url() {
  # Exports REDIS_HOST/PORT/DB/USERNAME/PASSWORD/USE_SSL from REDIS_URL
  # (redis[s]://[[user]:password@]host[:port][/db]) for Rasa's lock store in endpoints.yml;
  # the tracker store and the inbox broker take REDIS_URL itself. REDIS_USE_SSL is "true" or
  # empty: endpoints.yml values are strings, and only the empty one is false.
  local settings
  settings=$("$VENV/bin/python" - <<'PY'
import os, shlex
from urllib.parse import unquote, urlparse
url = urlparse(os.environ["REDIS_URL"])
if url.scheme not in ("redis", "rediss"):
    raise SystemExit(
        f"error: REDIS_URL must look like redis://[[user]:password@]host[:port][/db] "
        f"(rediss:// for TLS), got {url.scheme}://..."
    )
values = {
    "REDIS_HOST": url.hostname or "127.0.0.1",
    "REDIS_PORT": str(url.port or 6379),
    "REDIS_DB": (url.path or "/0").lstrip("/") or "0",
    "REDIS_USERNAME": unquote(url.username or ""),
    "REDIS_PASSWORD": unquote(url.password or ""),
    "REDIS_USE_SSL": "true" if url.scheme == "rediss" else "",
}
print("\n".join(f"export {key}={shlex.quote(value)}" for key, value in values.items()))
PY
) || return 1
  eval "$settings"
}

local_redis_cli() {
  # redis-cli against the local Redis, with its password (from the environment, not the command line).
  REDISCLI_AUTH=$LOCAL_REDIS_PASSWORD redis-cli --no-auth-warning -p "$LOCAL_REDIS_PORT" "$@"
}

start_local_redis() {
  # A project-local redis-server on a private port, data under .run/redis, with a password
  # generated once into .run/redis-password (git-ignored), as a deployment's Redis has one.
  # Sets STARTED_LOCAL_REDIS=yes only when this call started it (and so may stop it).
  ensure_package redis-server redis-server
  STARTED_LOCAL_REDIS=no
  mkdir -p "$RUN_DIR/redis"
  load_secret LOCAL_REDIS_PASSWORD redis-password
  if [ "$(local_redis_cli ping 2>/dev/null)" != PONG ]; then
    # The password on the command line would show in ps: it goes in through a config on stdin.
    # A memory limit, and at it writes are refused rather than live data evicted (noeviction);
    # the bridge's /metrics and log warn well before (docs/security.md "Limits").
    printf 'requirepass "%s"\n' "$LOCAL_REDIS_PASSWORD" | redis-server - --port "$LOCAL_REDIS_PORT" \
      --bind 127.0.0.1 --dir "$RUN_DIR/redis" \
      --maxmemory "${LOCAL_REDIS_MAXMEMORY:-512mb}" --maxmemory-policy noeviction \
      --appendonly yes --daemonize yes \
      --pidfile "$RUN_DIR/redis/redis.pid" --logfile "$RUN_DIR/redis/redis.log" >/dev/null
    for _ in $(seq 50); do
      [ "$(local_redis_cli ping 2>/dev/null)" = PONG ] && break
      sleep 0.1
    done
    if [ "$(local_redis_cli ping 2>/dev/null)" != PONG ]; then
      echo "error: redis-server did not start on port $LOCAL_REDIS_PORT; see $RUN_DIR/redis/redis.log" >&2
      return 1
    fi
    STARTED_LOCAL_REDIS=yes
  elif [ "$(redis-cli -p "$LOCAL_REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
    # Started by an earlier version without a password: it gets one now.
    redis-cli -p "$LOCAL_REDIS_PORT" config set requirepass "$LOCAL_REDIS_PASSWORD" >/dev/null
  fi
  export REDIS_URL=redis://:$LOCAL_REDIS_PASSWORD@127.0.0.1:$LOCAL_REDIS_PORT/0
}

postgres_bin() {
  # The newest installed PostgreSQL's programs: Debian keeps them off PATH, under /usr/lib/postgresql/*/bin.
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

ensure_postgres() {
  # Debian's PostgreSQL server (the archive, archive/), installed like redis-server when missing.
  [ -n "$(postgres_bin)" ] && return 0
  echo "==> installing postgresql (needs apt-get)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

as_postgres() {
  # PostgreSQL refuses to run as root: as root, its programs run as Debian's postgres user.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  # A project-local PostgreSQL cluster under .run/postgres on a private port of 127.0.0.1, with a
  # password generated once into .run/postgres-password, and the database "support"; exports
  # DATABASE_URL. Does nothing when DATABASE_URL is set (a PostgreSQL elsewhere). Sets
  # STARTED_LOCAL_POSTGRES=yes only when this call started it (and so may stop it: stop_postgres).
  STARTED_LOCAL_POSTGRES=no
  [ -z "${DATABASE_URL:-}" ] || return 0
  ensure_postgres
  local bin data="$RUN_DIR/postgres" password_file
  bin=$(postgres_bin)
  load_secret LOCAL_POSTGRES_PASSWORD postgres-password
  mkdir -p "$data"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$data"
    # The postgres user must reach the folder: every parent needs search (x) permission for others.
    if ! runuser -u postgres -- test -w "$data"; then
      echo "error: the postgres user cannot write $data (a parent folder is closed to others); set RUN_DIR" >&2
      return 1
    fi
  fi
  chmod 700 "$data"
  if [ ! -s "$data/PG_VERSION" ]; then
    password_file=$(mktemp)
    printf '%s\n' "$LOCAL_POSTGRES_PASSWORD" >"$password_file"
    [ "$(id -u)" = 0 ] && chown postgres: "$password_file"
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$password_file" \
      --encoding=UTF8 --locale=C.UTF-8 >"$RUN_DIR/postgres-initdb.log" 2>&1 || {
      rm -f "$password_file"
      echo "error: initdb failed; see $RUN_DIR/postgres-initdb.log" >&2
      return 1
    }
    rm -f "$password_file"
  fi
  export PGPASSWORD=$LOCAL_POSTGRES_PASSWORD
  if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$LOCAL_POSTGRES_PORT"; then
    as_postgres "$bin/pg_ctl" -D "$data" -w -l "$data/postgres.log" \
      -o "-c listen_addresses=127.0.0.1 -p $LOCAL_POSTGRES_PORT -k $data" start >/dev/null || {
      echo "error: PostgreSQL did not start on port $LOCAL_POSTGRES_PORT; see $data/postgres.log" >&2
      return 1
    }
    STARTED_LOCAL_POSTGRES=yes
  fi
  if [ "$("$bin/psql" -h 127.0.0.1 -p "$LOCAL_POSTGRES_PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'support'")" != 1 ]; then
    "$bin/createdb" -h 127.0.0.1 -p "$LOCAL_POSTGRES_PORT" -U postgres support
  fi
  unset PGPASSWORD
  export DATABASE_URL=postgresql://postgres:$LOCAL_POSTGRES_PASSWORD@127.0.0.1:$LOCAL_POSTGRES_PORT/support
}

stop_postgres() {
  # Stops the cluster start_postgres started (nothing when it found one running or DATABASE_URL set).
  [ "${STARTED_LOCAL_POSTGRES:-no}" = yes ] || return 0
  as_postgres "$(postgres_bin)/pg_ctl" -D "$RUN_DIR/postgres" -m fast stop >/dev/null 2>&1 || true
}

load_secret() {
  # load_secret VARIABLE FILE: the variable's value, else one generated once into
  # $RUN_DIR/FILE and kept, so that restarts keep it.
  if [ -z "${!1:-}" ]; then
    mkdir -p "$RUN_DIR"
    [ -s "$RUN_DIR/$2" ] ||
      (umask 077 && "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$RUN_DIR/$2")
    printf -v "$1" '%s' "$(cat "$RUN_DIR/$2")"
  fi
  export "${1?}"
}

load_handoff_secret() {
  # Agent tokens are signed with HANDOFF_SECRET: restarting the bridge must not log every agent out.
  load_secret HANDOFF_SECRET handoff-secret
}

load_identity_secret() {
  # Host sites sign their customers' identities with HANDOFF_IDENTITY_SECRET (docs/identity.md); make run
  # generates one so that the demo page can show a signed-in customer (scripts/identity-url.sh).
  load_secret HANDOFF_IDENTITY_SECRET identity-secret
}

load_model_server_token() {
  # The bridge serves the deployed model only to holders of this token (Rasa servers).
  load_secret MODEL_SERVER_TOKEN model-server-token
}

train_if_needed() {
  # `rasa train` keeps the newest model when data, domain and config are unchanged.
  # Its output (with Rasa's many warnings) goes to a log; failures show its end.
  mkdir -p "$MODELS_DIR" "$RUN_DIR/logs"
  local log="$RUN_DIR/logs/train.log"
  if ! "$VENV/bin/rasa" train --out "$MODELS_DIR" >"$log" 2>&1; then
    echo "error: training failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
  grep -E "Your Rasa model is trained|Nothing changed" "$log" | sed 's/\x1b\[[0-9;]*m//g' || true
}
