"""Create (once) a demo JPKI signing CA for development and `make demo`, and a fresh empty CRL.

Trust it by listing DIR/ca.pem in JPKI_TRUST_ANCHORS; never do that in production."""
from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from citizen_id import testca
from citizen_id.jpki.services import jpki_crl_load


class Command(BaseCommand):
    help = "Write a demo JPKI CA (ca.pem, ca.key.pem) and an empty CRL (crl.der) to --out; --load loads the CRL."

    # Runs before the first migration of a fresh demo, when JPKI_TRUST_ANCHORS already names the
    # file this command is about to write (the anchor check would fail).
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True)
        parser.add_argument("--load", action="store_true", help="load the CRL (the CA must be in JPKI_TRUST_ANCHORS)")

    def handle(self, *args, out, load, **options):
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        ca_path, key_path = directory / "ca.pem", directory / "ca.key.pem"
        if ca_path.exists() and key_path.exists():
            ca = testca.SigningCa(serialization.load_pem_private_key(key_path.read_bytes(), password=None),
                                  x509.load_pem_x509_certificate(ca_path.read_bytes()))
            self.stdout.write(f"demo CA kept: {ca_path}")
        else:
            ca = testca.make_ca("Demo Signing CA (NOT J-LIS)")
            key_path.write_bytes(ca.key_pem())
            key_path.chmod(0o600)
            ca_path.write_bytes(ca.pem)
            self.stdout.write(f"demo CA created: {ca_path}")
        crl_path = directory / "crl.der"
        crl_path.write_bytes(testca.make_crl(ca, [], number=int(testca.utcnow().timestamp())))
        self.stdout.write(f"empty CRL written: {crl_path}")
        if load:
            trusted = any(Path(p).resolve() == ca_path.resolve() for p in settings.JPKI_TRUST_ANCHORS)
            if not trusted:
                self.stdout.write(self.style.WARNING(f"not loading: add {ca_path} to JPKI_TRUST_ANCHORS first"))
                return
            connection.set_schema_to_public()
            self.stdout.write(jpki_crl_load(data=crl_path.read_bytes()).message)
