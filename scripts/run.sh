#!/usr/bin/env bash
# Runs the whole system on this machine: installs what is missing, trains a
# model if none is current, starts Redis (unless REDIS_URL points elsewhere),
# the action server, the Rasa server and the handoff bridge, prints where they
# are, and stops everything on Ctrl-C.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"

"$PROJECT_ROOT/scripts/bootstrap.sh"
ensure_package curl curl
echo "==> training the assistant (skipped when nothing changed)"
train_if_needed

STARTED_LOCAL_REDIS=no
[ -n "${REDIS_URL:-}" ] || start_local_redis
redis_settings_from_url
# The HTTP API can read and change every conversation: it needs this token.
RASA_API_TOKEN=${RASA_API_TOKEN:-$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))')}

mkdir -p "$RUN_DIR/logs"
pids=()
cleanup() {
  echo
  echo "==> stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$STARTED_LOCAL_REDIS" = yes ]; then
    redis-cli -p "$LOCAL_REDIS_PORT" shutdown >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> starting the action server on port $ACTION_PORT"
"$VENV/bin/rasa" run actions --port "$ACTION_PORT" --actions actions \
  >"$RUN_DIR/logs/actions.log" 2>&1 &
pids+=($!)

echo "==> starting the Rasa server on port $RASA_PORT"
"$VENV/bin/rasa" run --enable-api --auth-token="$RASA_API_TOKEN" \
  --interface "$RASA_INTERFACE" --port "$RASA_PORT" \
  --model "$MODELS_DIR" --endpoints endpoints.yml --credentials credentials.yml \
  >"$RUN_DIR/logs/rasa.log" 2>&1 &
pids+=($!)

wait_for() {
  # wait_for NAME URL PID LOG: poll URL until it answers, or fail with the log.
  for _ in $(seq 240); do
    if curl -fsS "$2" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then
      echo "error: $1 exited; last lines of $4:" >&2
      tail -n 30 "$4" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "error: $1 did not answer at $2 within 2 minutes; see $4" >&2
  exit 1
}
wait_for "action server" "http://127.0.0.1:$ACTION_PORT/health" "${pids[0]}" "$RUN_DIR/logs/actions.log"
wait_for "Rasa server" "http://127.0.0.1:$RASA_PORT/status?token=$RASA_API_TOKEN" "${pids[1]}" "$RUN_DIR/logs/rasa.log"

echo "==> starting the handoff bridge on port $HANDOFF_PORT"
load_handoff_secret
RASA_URL=http://127.0.0.1:$RASA_PORT "$VENV/bin/python" -m handoff >"$RUN_DIR/logs/handoff.log" 2>&1 &
pids+=($!)
wait_for "handoff bridge" "http://127.0.0.1:$HANDOFF_PORT/ready" "${pids[2]}" "$RUN_DIR/logs/handoff.log"
agents=$("$VENV/bin/python" -m handoff.auth list | cut -f1 | paste -sd, - | sed "s/,/, /g")
DEMO_ACCOUNT_FILE="$RUN_DIR/demo-account"
if [ -z "$agents" ]; then
  # A first run: one account to try the console with (an agent who is also a supervisor).
  ( umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$DEMO_ACCOUNT_FILE" )
  HANDOFF_AGENT_PASSWORD=$(cat "$DEMO_ACCOUNT_FILE") "$VENV/bin/python" -m handoff.auth add demo \
    --roles agent,supervisor >/dev/null
  agents=demo
fi
demo_login="log in with an account from  make agent NAME=..."
if [ -f "$DEMO_ACCOUNT_FILE" ] && [[ ", $agents, " == *", demo, "* ]]; then
  demo_login="log in as demo / $(cat "$DEMO_ACCOUNT_FILE")"
fi

cat <<INFO

The support assistant is running:
  Demo bank page + chat   http://127.0.0.1:$HANDOFF_PORT/
  Agent console           http://127.0.0.1:$HANDOFF_PORT/console   ${demo_login}
  Accounts                $agents   (add one: make agent NAME=ann [ROLES=agent,supervisor])
  Handoff bridge          http://127.0.0.1:$HANDOFF_PORT   websockets /ws/customer, /ws/agent, /ws/supervisor
                          health /health, readiness /ready, Prometheus /metrics (docs/bridge-protocol.md)
  Rasa server (HTTP API)  http://127.0.0.1:$RASA_PORT          e.g. /status?token=\$RASA_API_TOKEN
  API token               $RASA_API_TOKEN   (set RASA_API_TOKEN to choose it)
  REST channel            http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook
  Action server           http://127.0.0.1:$ACTION_PORT/webhook
  Redis                   $REDIS_HOST:$REDIS_PORT db $REDIS_DB (tracker and lock store)
  Logs                    $RUN_DIR/logs/

Try it:
  curl -s -XPOST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
       -d '{"sender": "me", "message": "my card has not arrived"}'
or chat in a terminal (another shell):  make shell

Press Ctrl-C to stop.
INFO
wait -n "${pids[@]}" || true
echo "error: a server stopped unexpectedly; see $RUN_DIR/logs/" >&2
exit 1
