"""A local SMTP server that keeps every mail it receives as a .eml file (the demo's mailbox).

`manage.py smtp_sink --port 1025 --dir .demo/mail`; point EMAIL_HOST/EMAIL_PORT at it.
"""
from __future__ import annotations

import itertools
import time
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    """aiosmtpd handler: one file per message, named so that `ls` lists them in arrival order."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope) -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.directory / f"{stamp}-{next(self._counter):05d}.eml"
        header = (f"X-Sink-Mail-From: {envelope.mail_from}\r\n"
                  f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(header + envelope.original_content)
        tmp.rename(path)  # readers never see half a mail
        return "250 Message accepted for delivery"


def start(*, host: str = "127.0.0.1", port: int = 1025, directory: str | Path) -> Controller:
    """Starts the sink on a background thread; `controller.stop()` ends it."""
    controller = Controller(MaildirHandler(directory), hostname=host, port=port)
    controller.start()
    return controller
