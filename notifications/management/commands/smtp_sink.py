"""`manage.py smtp_sink --port 1025 --dir .demo/mail`: keep every mail sent to this SMTP port as a file."""
from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from notifications.smtp_sink import start


class Command(BaseCommand):
    help = "Run a local SMTP server that writes each received mail to a directory (demo mailbox)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=1025)
        parser.add_argument("--dir", default=".demo/mail", help="where received mails are written (.eml)")

    def handle(self, *args, **options):
        controller = start(host=options["host"], port=options["port"], directory=options["dir"])
        self.stdout.write(f"SMTP sink on {options['host']}:{options['port']}, mail kept in {options['dir']}")
        self.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
