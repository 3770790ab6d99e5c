"""`manage.py fake_fcm --port 9099 [--latency-ms 20] [--log FILE]`: a local FCM HTTP v1 server.

Point the platform at it with FCM_ENDPOINT=http://127.0.0.1:9099 (see notifications/fake_fcm.py for
what it answers)."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from notifications.fake_fcm import serve


class Command(BaseCommand):
    help = "Run a fake FCM server (HTTP v1 send, topic management) for development, tests and benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=9099)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--latency-ms", type=float, default=0.0,
                            help="delay before answering each send, like a real network round trip")
        parser.add_argument("--log", default=None, help="append one JSON line per accepted message to this file")

    def handle(self, *args, **options):
        def ready(port: int) -> None:
            self.stdout.write(f"fake FCM listening on http://{options['host']}:{port} "
                              f"(latency {options['latency_ms']:g} ms, log {options['log'] or '-'})")
            self.stdout.flush()

        serve(host=options["host"], port=options["port"], latency_ms=options["latency_ms"], log_path=options["log"],
              on_ready=ready)
