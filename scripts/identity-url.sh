#!/usr/bin/env bash
# The demo page's address for a signed-in customer, signed as a host site's server signs one
# (docs/identity.md) with this run's HANDOFF_IDENTITY_SECRET (generated into .run/ by make run):
#   scripts/identity-url.sh [ID] [NAME] [EMAIL]      (make identity-url ID=… NAME=… EMAIL=…)
# Open it in two browsers: both continue the same conversation. Valid for HANDOFF_IDENTITY_MAX_AGE.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
load_identity_secret
"$BRIDGE_VENV/bin/python" - "${1:-demo-customer-1}" "${2:-Ada Lovelace}" "${3:-ada@example.com}" \
  "http://127.0.0.1:$HANDOFF_PORT/" <<'PY'
import os
import sys
import time
from urllib.parse import quote

from handoff.identity import sign

customer, name, email, page = sys.argv[1:5]
secret = os.environ["HANDOFF_IDENTITY_SECRET"].split(",")[0].strip()
token = sign(secret, {"id": customer, "name": name, "email": email, "issued_at": int(time.time())})
print(f"{page}?identity={quote(token)}")
PY
