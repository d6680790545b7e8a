#!/usr/bin/env bash
# Runs the whole system on this machine: installs what is missing, trains a
# model if none is current, starts Redis (unless REDIS_URL points elsewhere),
# the action server, the Rasa server, the handoff bridge and a development mail
# sink (unless HANDOFF_SMTP_HOST points at a mail server), prints where they
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
STARTED_LOCAL_POSTGRES=no
start_postgres  # the archive (nothing when DATABASE_URL points elsewhere)
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
    local_redis_cli shutdown >/dev/null 2>&1 || true
  fi
  stop_postgres
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {
  # wait_for NAME PID LOG CHECK...: run CHECK until it succeeds, or fail with the log
  # when the process exits or two minutes pass.
  local name=$1 pid=$2 log=$3
  shift 3
  for _ in $(seq 240); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: $name exited; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "error: $name was not ready within 2 minutes ($*); see $log" >&2
  exit 1
}

load_handoff_secret
load_identity_secret
load_model_server_token
# Transcripts by email (README "Transcripts by email"): without a mail server of yours, a development sink on
# loopback keeps every mail the bridge sends as a file under $RUN_DIR/mail/.
MAIL_SINK=no
if [ -z "${HANDOFF_SMTP_HOST:-}" ]; then
  MAIL_SINK=yes
  MAIL_SINK_PORT=${MAIL_SINK_PORT:-2525}
  export HANDOFF_SMTP_HOST=127.0.0.1 HANDOFF_SMTP_PORT=$MAIL_SINK_PORT HANDOFF_SMTP_SECURITY=none
  export HANDOFF_MAIL_FROM=${HANDOFF_MAIL_FROM:-"Support <support@bank.example>"}
fi
# The business transcript mails name (subject, From, the notice to typed addresses): the demo's brand.
export HANDOFF_BUSINESS_NAME=${HANDOFF_BUSINESS_NAME:-"Northwind Bank"}
# A model trained here from changed data becomes the deployed one; a model the
# content staff deployed or rolled back to stays deployed across restarts.
"$VENV/bin/python" -m teaching --as make-run publish "$MODELS_DIR" | sed 's/^/==> model: /'

echo "==> starting the action server on $ACTION_INTERFACE port $ACTION_PORT"
# rasa_sdk takes its address from SANIC_HOST (every interface without it); only Rasa calls it.
# Its Sanic refuses request bodies over SANIC_REQUEST_MAX_SIZE (a tracker of a long chat is a few
# hundred kB; a 10 MB one would stall real turns): docs/security.md "Limits".
SANIC_HOST=$ACTION_INTERFACE SANIC_REQUEST_MAX_SIZE=${ACTION_MAX_REQUEST_BYTES:-2097152} "$VENV/bin/rasa" run actions --port "$ACTION_PORT" --actions actions \
  >"$RUN_DIR/logs/actions.log" 2>&1 &
pids+=($!)

# The bridge first: every Rasa server pulls its model from it.
echo "==> starting the handoff bridge on port $HANDOFF_PORT"
RASA_URL=http://127.0.0.1:$RASA_PORT "$BRIDGE_VENV/bin/python" -m handoff >"$RUN_DIR/logs/handoff.log" 2>&1 &
pids+=($!)
wait_for "handoff bridge" "${pids[1]}" "$RUN_DIR/logs/handoff.log" curl -fsS "http://127.0.0.1:$HANDOFF_PORT/health"

echo "==> starting the Rasa server on port $RASA_PORT"
"$VENV/bin/rasa" run --enable-api --auth-token="$RASA_API_TOKEN" \
  --interface "$RASA_INTERFACE" --port "$RASA_PORT" \
  --endpoints endpoints.yml --credentials credentials.yml \
  >"$RUN_DIR/logs/rasa.log" 2>&1 &
pids+=($!)

echo "==> starting the archiver (the bridge's outbox into PostgreSQL)"
"$BRIDGE_VENV/bin/python" -m archive >"$RUN_DIR/logs/archive.log" 2>&1 &
pids+=($!)

echo "==> starting the teaching worker (inbox, labels, training)"
"$VENV/bin/python" -m teaching worker >"$RUN_DIR/logs/teach.log" 2>&1 &
pids+=($!)

if [ "$MAIL_SINK" = yes ]; then
  echo "==> starting the development mail sink on 127.0.0.1 port $MAIL_SINK_PORT"
  "$VENV/bin/python" -m harness.mail_sink --port "$MAIL_SINK_PORT" --dir "$RUN_DIR/mail" >"$RUN_DIR/logs/mail.log" 2>&1 &
  pids+=($!)
  wait_for "mail sink" "${pids[4]}" "$RUN_DIR/logs/mail.log" grep -q "mail sink on" "$RUN_DIR/logs/mail.log"
  mail_info="development sink 127.0.0.1:$MAIL_SINK_PORT; mails written to $RUN_DIR/mail/"
else
  mail_info="$HANDOFF_SMTP_HOST:${HANDOFF_SMTP_PORT:-587} (HANDOFF_SMTP_*)"
fi

wait_for "action server" "${pids[0]}" "$RUN_DIR/logs/actions.log" curl -fsS "http://127.0.0.1:$ACTION_PORT/health"
wait_for "Rasa server" "${pids[2]}" "$RUN_DIR/logs/rasa.log" \
  curl -fsS "http://127.0.0.1:$RASA_PORT/status?token=$RASA_API_TOKEN"
wait_for "handoff bridge" "${pids[1]}" "$RUN_DIR/logs/handoff.log" \
  curl -fsS "http://127.0.0.1:$HANDOFF_ADMIN_PORT/ready"
wait_for "archiver" "${pids[3]}" "$RUN_DIR/logs/archive.log" grep -q "archiver ready" "$RUN_DIR/logs/archive.log"
wait_for "teaching worker" "${pids[4]}" "$RUN_DIR/logs/teach.log" grep -q "teaching worker ready" "$RUN_DIR/logs/teach.log"
agents=$("$BRIDGE_VENV/bin/python" -m handoff.auth list | cut -f1 | paste -sd, - | sed "s/,/, /g")
DEMO_ACCOUNT_FILE="$RUN_DIR/demo-account"
if [ -z "$agents" ]; then
  # A first run: one account to try the console with (agent, supervisor and content editor).
  ( umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))' >"$DEMO_ACCOUNT_FILE" )
  HANDOFF_AGENT_PASSWORD=$(cat "$DEMO_ACCOUNT_FILE") "$BRIDGE_VENV/bin/python" -m handoff.auth add demo \
    --roles agent,supervisor,content >/dev/null
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
  Signed-in customer      $(scripts/identity-url.sh)
                          (signed as a host site signs its customers: docs/identity.md; open it in two
                          browsers, they share the conversation; another: make identity-url ID=… NAME=… EMAIL=…)
  Accounts                $agents   (add one: make agent NAME=ann [ROLES=agent,supervisor,content])
  Teaching                the console's Teach view (role content), or  make teach ARGS=inbox
  Handoff bridge          http://127.0.0.1:$HANDOFF_PORT   websockets /ws/customer, /ws/agent, /ws/supervisor, /ws/content
                          health /health; on loopback only: http://127.0.0.1:$HANDOFF_ADMIN_PORT/ready, /metrics
                          (docs/security.md)
  Rasa server (HTTP API)  http://127.0.0.1:$RASA_PORT          e.g. /status?token=\$RASA_API_TOKEN
  API token               $RASA_API_TOKEN   (set RASA_API_TOKEN to choose it)
  REST channel            http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook
  Action server           http://127.0.0.1:$ACTION_PORT/webhook
  Redis                   $REDIS_HOST:$REDIS_PORT db $REDIS_DB (tracker and lock store; password in REDIS_URL)
  PostgreSQL (archive)    ${DATABASE_URL%%://*}://${DATABASE_URL#*@}   (password in DATABASE_URL; docs/data-model.md)
  Deployed model          $("$VENV/bin/python" -m teaching models | sed -n 's/^\* \([^ ]*\).*/\1/p')   (served to Rasa from /api/models/current)
  Transcripts by email    $mail_info
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
