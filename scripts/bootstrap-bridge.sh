#!/usr/bin/env bash
# Creates .venv-bridge, the handoff bridge's own virtual environment, on the
# newest CPython found (3.13, else 3.12), and installs requirements/bridge.txt
# pinned by requirements/bridge-constraints.txt; does nothing when those files
# have not changed. The bridge is the process that faces the internet: it talks
# to Rasa only over HTTP, so it need not share Rasa 3.6's Python 3.10 and its
# old pins, and keeps to releases that still receive security fixes.
# Usage: scripts/bootstrap-bridge.sh [--test]   (--test adds its type checker)
# Called by scripts/bootstrap.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

BRIDGE_VENV=${BRIDGE_VENV:-.venv-bridge}
want_test=no
[ "${1:-}" = "--test" ] && want_test=yes
# Newest first; each is tested (make test). Python 3.12 is the oldest with Sanic's LTS support window.
MINORS=(13 12)

is_minor() {  # is_minor PYTHON MINOR: the executable runs CPython 3.MINOR
  "$1" -c "import sys; sys.exit(sys.version_info[:2] != (3, $2) or sys.implementation.name != 'cpython')" \
    2>/dev/null
}

find_bridge_python() {
  local minor candidate version
  if [ -n "${BRIDGE_PYTHON:-}" ]; then
    for minor in "${MINORS[@]}"; do
      is_minor "$BRIDGE_PYTHON" "$minor" && { command -v "$BRIDGE_PYTHON"; return 0; }
    done
    echo "error: BRIDGE_PYTHON=$BRIDGE_PYTHON is not CPython 3.13 or 3.12" >&2
    return 1
  fi
  for minor in "${MINORS[@]}"; do
    if command -v pyenv >/dev/null 2>&1; then
      version=$(pyenv versions --bare | grep -E "^3\.$minor\.[0-9]+$" | sort -V | tail -n 1 || true)
      if [ -n "$version" ] && is_minor "$(pyenv root)/versions/$version/bin/python" "$minor"; then
        echo "$(pyenv root)/versions/$version/bin/python"
        return 0
      fi
    fi
    for candidate in $(ls -d "$HOME"/.pyenv/versions/3."$minor".*/bin/python 2>/dev/null | sort -V -r) \
        "python3.$minor"; do
      if command -v "$candidate" >/dev/null 2>&1 && is_minor "$candidate" "$minor"; then
        command -v "$candidate"
        return 0
      fi
    done
  done
  return 1
}

if [ -x "$BRIDGE_VENV/bin/python" ] && ! { is_minor "$BRIDGE_VENV/bin/python" 13 || is_minor "$BRIDGE_VENV/bin/python" 12; }; then
  echo "==> $BRIDGE_VENV is not on Python 3.12 or 3.13; creating it again"
  rm -rf "$BRIDGE_VENV"
fi
if [ ! -x "$BRIDGE_VENV/bin/python" ]; then
  rm -rf "$BRIDGE_VENV"  # a half-made one, or one whose Python is gone
  bridge_python=$(find_bridge_python) || {
    echo "error: the handoff bridge runs on Python 3.13 (or 3.12); none found." >&2
    echo "       Install it (e.g. 'pyenv install 3.13', or a system python3.13 with its venv module)," >&2
    echo "       or set BRIDGE_PYTHON=/path/to/python3.13." >&2
    exit 1
  }
  echo "==> creating $BRIDGE_VENV with $bridge_python"
  "$bridge_python" -m venv "$BRIDGE_VENV"
fi

pip_install() {
  # Some machines' pip config lists local package folders that do not exist;
  # hide pip's warning about each of them, keep every other message.
  "$BRIDGE_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

stamp_of() { cat requirements/bridge*.txt | sha256sum | cut -c1-16; }
stamp="$BRIDGE_VENV/.installed-$(stamp_of)"
if [ ! -f "$stamp" ]; then
  echo "==> installing the bridge's dependencies into $BRIDGE_VENV"
  pip_install -c requirements/bridge-constraints.txt -r requirements/bridge.txt
  rm -f "$BRIDGE_VENV"/.installed-*
  touch "$stamp"
fi

test_stamp="$BRIDGE_VENV/.installed-test-$(stamp_of)"
if [ "$want_test" = yes ] && [ ! -f "$test_stamp" ]; then
  echo "==> installing the bridge's test tools into $BRIDGE_VENV"
  pip_install -c requirements/bridge-constraints.txt -r requirements/bridge-test.txt
  touch "$test_stamp"
fi
