"""Write a test "My Number Card": a JPKI-profile signature certificate from the demo CA and its key,
so the enrolment flow can be tried end to end without a card reader."""
from __future__ import annotations

import base64
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management.base import BaseCommand, CommandError

from citizen_id import testca
from citizen_id.jpki.profile import ProfileError, parse_birth_date


class Command(BaseCommand):
    help = "Write card.der / card.pem / card.key.pem for a test card issued by the demo CA (jpki_demo_ca)."

    # Runs before the first migration of a fresh demo, when JPKI_TRUST_ANCHORS already names the
    # file this command is about to write (the anchor check would fail).
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="氏名, e.g. 佐賀 花子")
        parser.add_argument("--address", required=True, help="住所, e.g. 佐賀県佐賀市栄町1番1号")
        parser.add_argument("--birth", required=True, help="生年月日 EYYYYMMDD, e.g. 319800102 (昭和)")
        parser.add_argument("--sex", required=True, choices=["1", "2", "3"], help="1 male, 2 female, 3 other")
        parser.add_argument("--out", required=True)
        parser.add_argument("--ca-dir", default=".demo/jpki", help="where jpki_demo_ca wrote the CA")
        parser.add_argument("--days", type=int, default=5 * 365)

    def handle(self, *args, name, address, birth, sex, out, ca_dir, days, **options):
        try:
            parse_birth_date(birth)
        except ProfileError as exc:
            raise CommandError(f"--birth: {exc}") from None
        ca_dir_path = Path(ca_dir)
        try:
            ca = testca.SigningCa(
                serialization.load_pem_private_key((ca_dir_path / "ca.key.pem").read_bytes(), password=None),
                x509.load_pem_x509_certificate((ca_dir_path / "ca.pem").read_bytes()))
        except OSError:
            raise CommandError(f"no demo CA in {ca_dir}: run `manage.py jpki_demo_ca --out {ca_dir}` first") from None
        now = testca.utcnow()
        key, certificate = testca.make_card(ca, testca.CardSpec(
            name=name, address=address, birth=birth, sex=sex, not_after=now + testca.dt.timedelta(days=days)))
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "card.der").write_bytes(testca.der(certificate))
        (directory / "card.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path = directory / "card.key.pem"
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        self.stdout.write(f"card certificate (serial {certificate.serial_number:x}) and key written to {directory}")
        self.stdout.write("certificate (base64 DER) for /api/v1/citizen-id/enroll/:")
        self.stdout.write(base64.b64encode(testca.der(certificate)).decode())
        self.stdout.write("sign a nonce like the card does:\n"
                          f"  printf %s \"$NONCE\" | base64 -d | openssl dgst -sha256 -sign {key_path} | base64 -w0")
