#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, checks
# the training data and the types, trains the model, then runs the action unit
# tests, Rasa's story tests and pytest (which starts its own Redis, action
# server and Rasa servers).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"

"$PROJECT_ROOT/scripts/bootstrap.sh" --test
ensure_package redis-server redis-server
ensure_postgres  # the archive's tests start their own cluster (harness/postgres.py)
ensure_package chromium chromium  # the browser tests (tests/browser)

echo "==> rasa data validate"
"$VENV/bin/rasa" data validate --quiet

echo "==> mypy (type checks): the bot's environment, then the bridge's on its own Python"
"$VENV/bin/mypy" bot teaching actions bench harness handoff_client
"$BRIDGE_VENV/bin/mypy" handoff archive  # and the teaching contract it imports (teaching/, not teaching/worker/)

echo "==> the bridge's unit tests (state machine, store, routing, dashboard) on its own runtime"
"$BRIDGE_VENV/bin/python" -m pytest -q tests/handoff/test_machine.py tests/handoff/test_rules.py tests/handoff/test_store.py \
  tests/handoff/test_routing.py tests/handoff/test_dashboard.py tests/handoff/test_transcripts.py \
  tests/handoff/test_hub.py tests/handoff/test_mentions.py tests/handoff/test_workspace_rules.py \
  tests/handoff/test_status_and_presence_store.py tests/handoff/test_assignment_rules.py \
  tests/handoff/test_suggestion_rules.py tests/handoff/test_agent_figures.py \
  tests/handoff/test_sla_rules.py tests/handoff/test_privacy.py tests/handoff/test_mail_rules.py \
  tests/handoff/test_identity_rules.py tests/handoff/test_contacts_store.py \
  tests/handoff/test_notes_store.py tests/handoff/test_delivery.py tests/handoff/test_report_rules.py \
  tests/handoff/test_answer_mail_text.py

echo "==> the archive (outbox, archiver, PostgreSQL) on the bridge's runtime, which has its driver"
"$BRIDGE_VENV/bin/python" -m pytest -q tests/archive

echo "==> action unit tests"
"$VENV/bin/python" -m pytest -q tests/actions

echo "==> training the assistant"
train_if_needed

echo "==> rasa test (stories, failing on any wrong prediction)"
"$VENV/bin/rasa" test core --model "$MODELS_DIR" --stories tests/stories \
  --e2e --fail-on-prediction-errors --out "$RUN_DIR/results" --quiet

echo "==> pytest"
"$VENV/bin/python" -m pytest -q --ignore=tests/actions --ignore=tests/archive "$@"
