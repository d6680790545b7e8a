"""``python -m handoff``: run the bridge (settings from the environment)."""

from __future__ import annotations

import sys

from handoff.app import create_app
from handoff.settings import Settings


def main() -> int:
    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    create_app(settings, name="handoff").run(host=settings.host, port=settings.port, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
