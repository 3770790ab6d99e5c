"""Load a J-LIS certificate revocation list (DER or PEM), verified against JPKI_TRUST_ANCHORS."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from citizen_id.jpki.services import CrlError, crl_status, jpki_crl_load


class Command(BaseCommand):
    help = "Load a JPKI CRL file (its signature must verify under a configured trust anchor); --status lists them."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="CRL files (DER or PEM)")
        parser.add_argument("--status", action="store_true", help="show which trust anchors have a current CRL")

    def handle(self, *args, files, status, **options):
        connection.set_schema_to_public()
        if not files and not status:
            raise CommandError("give one or more CRL files, or --status")
        for path in files:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}") from None
            try:
                result = jpki_crl_load(data=data)
            except CrlError as exc:
                raise CommandError(f"{path}: {exc}") from None
            self.stdout.write(f"{path}: {result.message}")
        if status:
            for line in crl_status():
                state = "STALE/MISSING" if line["stale"] else "ok"
                self.stdout.write(f"[{state}] {line['anchor']} ({line['path']}): {line['crl'] or 'no CRL loaded'}")
