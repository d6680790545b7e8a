"""A real SMTP server that keeps what it receives: tests' mail server, and `make run`'s development sink.

    python -m harness.mail_sink --port 2525 --dir .run/mail [--fail-first 2]

It listens on loopback only (aiosmtpd) and writes each message it accepts as an ``.eml`` file under
``--dir`` (written aside, then renamed: a reader never sees half a mail), with ``X-Envelope-From`` and
``X-Envelope-To`` headers in front saying who the SMTP envelope named. ``--fail-first N`` answers the first N
messages with a temporary failure (451), as a busy server does, so that tests can see retries.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import time
from pathlib import Path
from typing import Any, Iterator, List, Optional

from aiosmtpd.controller import Controller

__all__ = ["Sink", "main"]


class Sink:
    """aiosmtpd's handler: each message's DATA stored as a file, or refused while failures are due."""

    def __init__(self, folder: Path, fail_first: int = 0) -> None:
        self.folder = folder
        self.failures_left = fail_first
        self._numbers: Iterator[int] = itertools.count()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.failures_left > 0:
            self.failures_left -= 1
            return "451 4.3.0 Busy; try again later"
        head = (f"X-Envelope-From: {envelope.mail_from}\r\n"
                f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        name = f"{time.time_ns()}-{os.getpid()}-{next(self._numbers)}"
        aside = self.folder / f".{name}.tmp"
        aside.write_bytes(head + envelope.original_content)
        aside.rename(self.folder / f"{name}.eml")
        return "250 2.0.0 Kept"


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    arguments = parser.parse_args(argv)
    arguments.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(Sink(arguments.dir, arguments.fail_first), hostname=arguments.host, port=arguments.port)
    controller.start()
    print(f"mail sink on {arguments.host}:{arguments.port}, writing to {arguments.dir}", flush=True)
    try:
        asyncio.run(_until_stopped())
    finally:
        controller.stop()


async def _until_stopped() -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopped.set)
    await stopped.wait()


if __name__ == "__main__":
    main()
