#!/usr/bin/env bash
# Chat with the assistant in this terminal (`rasa shell`), using the action
# server and Redis of a running `make run`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
"$PROJECT_ROOT/scripts/bootstrap.sh"
ensure_package curl curl
train_if_needed
[ -n "${REDIS_URL:-}" ] || start_local_redis
redis_settings_from_url
if ! curl -fsS "http://127.0.0.1:$ACTION_PORT/health" >/dev/null 2>&1; then
  echo "note: no action server on port $ACTION_PORT (start 'make run' in another shell);" \
       "handoff and callback replies need it." >&2
fi
exec "$VENV/bin/rasa" shell --model "$MODELS_DIR" --endpoints endpoints.yml \
  --port "${SHELL_PORT:-5006}" "$@"
