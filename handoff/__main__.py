"""``python -m handoff``: run the bridge (settings from the environment)."""

from __future__ import annotations

import gc
import sys

from handoff.app import create_app
from handoff.settings import Settings

# A bridge holds thousands of long-lived sockets, and every socket makes short-lived objects
# (pings, pongs, tasks). With Python's default first threshold (700) those are promoted before
# they die, and full collections, each a pass over every socket's objects (1-3 s with 10,000
# sockets, the event loop stopped meanwhile), came every few seconds; a larger first
# generation lets them die young (bench.scale: relay p99 2.8 s -> 4 ms with 10,000 customers).
# What closed sockets leave behind is freed by full collections that handoff.collector runs once
# many sockets have gone.
GC_THRESHOLDS = (50_000, 10, 10)


def main() -> int:
    try:
        settings = Settings.from_env()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    app = create_app(settings, name="handoff")
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()  # what start-up made (modules, the app) lives as long as the process: no collection looks at it again
    # One process, deliberately: Sanic's worker manager would serve from child processes that build
    # their own app (looked up by name), without the GC tuning above, and a supervisor or a drill's
    # kill -9 would reach the manager, not the process holding the sockets. A bridge scales by
    # running more processes over one Redis (README), each a single process.
    app.run(host=settings.host, port=settings.port, access_log=False, motd=False, single_process=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
