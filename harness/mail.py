"""The test SMTP server (harness.mail_sink) as a process on a free port, and reading what it received."""

from __future__ import annotations

import email
import os
import smtplib
import subprocess
import tempfile
import time
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Dict, Iterator, List

from harness.servers import ROOT, ServerProcess, VENV_BIN, base_env, free_port, started

__all__ = ["MailSink", "mail_settings", "received", "running_mail_sink", "wait_for_mail"]


class MailSink(ServerProcess):
    """harness.mail_sink on a free loopback port, keeping mails under ``folder``."""

    def __init__(self, folder: Path, name: str = "mail-sink", fail_first: int = 0) -> None:
        self.folder = folder
        port = free_port()
        env = base_env()
        # The caller's path too: the tools it found (aiosmtpd) are found by the sink.
        env["PYTHONPATH"] = os.pathsep.join(part for part in (str(ROOT), os.environ.get("PYTHONPATH", "")) if part)
        super().__init__(name, port, [str(VENV_BIN / "python"), "-m", "harness.mail_sink", "--port", str(port),
                                      "--dir", str(folder), "--fail-first", str(fail_first)],
                         env, health_url="", start_timeout=30)

    def wait_until_ready(self, process: subprocess.Popen, log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as client:
                    client.noop()
                return
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the mail sink did not start:\n{log.read_text()}")
                time.sleep(0.1)


def mail_settings(sink: MailSink, **extra: str) -> Dict[str, str]:
    """A bridge's environment for sending through ``sink`` (plain SMTP: it is on loopback)."""
    return {"HANDOFF_SMTP_HOST": "127.0.0.1", "HANDOFF_SMTP_PORT": str(sink.port), "HANDOFF_SMTP_SECURITY": "none",
            "HANDOFF_MAIL_FROM": "Support <support@bank.example>", "HANDOFF_BUSINESS_NAME": "Northwind Bank", **extra}


@contextmanager
def running_mail_sink(name: str = "mail-sink", fail_first: int = 0) -> Iterator[MailSink]:
    with tempfile.TemporaryDirectory(prefix="mail-sink-") as folder:
        with started(MailSink(Path(folder), name, fail_first)) as sink:
            yield sink


def received(folder: Path) -> List[EmailMessage]:
    """Every mail the sink kept, oldest first."""
    mails = []
    for path in sorted(folder.glob("*.eml"), key=lambda path: int(path.name.split("-", 1)[0])):
        mails.append(email.message_from_bytes(path.read_bytes(), policy=default))
    return mails  # type: ignore[return-value]  # policy=default makes EmailMessage


def wait_for_mail(folder: Path, to: str, timeout: float = 30.0) -> EmailMessage:
    """The first mail the sink kept for ``to``, waiting for it."""
    deadline = time.monotonic() + timeout
    while True:
        for mail in received(folder):
            if mail["X-Envelope-To"] == to:
                return mail
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail for {to} within {timeout:g} s; kept: {[m['To'] for m in received(folder)]}")
        time.sleep(0.1)
