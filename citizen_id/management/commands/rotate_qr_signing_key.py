"""Rotate a municipality's QR signing key (the old one keeps verifying), or revoke a compromised one."""
from __future__ import annotations

from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from citizen_id.signing import qr_signing_key_revoke, qr_signing_key_rotate
from tenants.models import Municipality


class Command(BaseCommand):
    help = "New current QR signing key per municipality (--revoke KID: stop trusting a key at once)."

    def add_arguments(self, parser):
        parser.add_argument("--schema", action="append", help="only these municipality schemas (default: all)")
        parser.add_argument("--revoke", metavar="KID", help="revoke this key id instead of rotating")

    def handle(self, *args, schema, revoke, **options):
        for name in schema or list(Municipality.objects.values_list("schema_name", flat=True)):
            with schema_context(name):
                if revoke:
                    count = qr_signing_key_revoke(kid=revoke)
                    self.stdout.write(f"{name}: revoked {count} key(s) with kid {revoke}")
                else:
                    row = qr_signing_key_rotate()
                    self.stdout.write(f"{name}: new current key {row.kid}")
