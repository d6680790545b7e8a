#!/usr/bin/env bash
# Chat with the assistant in this terminal (`rasa shell`), using the action
# server, Redis and the deployed model (pulled from the bridge) of a running `make run`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
"$PROJECT_ROOT/scripts/bootstrap.sh"
ensure_package curl curl
[ -n "${REDIS_URL:-}" ] || start_local_redis
redis_settings_from_url
load_model_server_token
if ! curl -fsS "http://127.0.0.1:$HANDOFF_PORT/health" >/dev/null 2>&1; then
  echo "error: 'make run' is not running (the shell takes the deployed model from its bridge)" >&2
  exit 1
fi
exec "$VENV/bin/rasa" shell --endpoints endpoints.yml \
  --port "${SHELL_PORT:-5006}" "$@"
