"""Development commands: a demo CA and a test card make the enrolment flow work end to end without a
card reader; the QR signing key rotates from the command line."""
from __future__ import annotations

import base64
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.core.management.base import CommandError

from citizen_id import qr, testca
from citizen_id.models import QrSigningKey

from .conftest import challenge


def _run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_demo_ca_and_test_card_enrol_end_to_end(saga, settings, tmp_path):
    ca_dir, card_dir = tmp_path / "jpki", tmp_path / "card"
    settings.JPKI_TRUST_ANCHORS = [str(ca_dir / "ca.pem")]
    assert "demo CA created" in _run("jpki_demo_ca", out=str(ca_dir))
    assert "loaded" in _run("jpki_demo_ca", out=str(ca_dir), load=True)  # second run keeps the CA
    output = _run("make_test_card", name="佐賀 次郎", address="佐賀県佐賀市大財1丁目1番1号", birth="420050607",
                  sex="1", out=str(card_dir), ca_dir=str(ca_dir))
    assert "openssl dgst -sha256 -sign" in output
    certificate = x509.load_der_x509_certificate((card_dir / "card.der").read_bytes())
    key = serialization.load_pem_private_key((card_dir / "card.key.pem").read_bytes(), password=None)
    assert oct((card_dir / "card.key.pem").stat().st_mode & 0o777) == "0o600"

    client = saga.client("resident")
    nonce = challenge(client)
    response = client.post("/api/v1/citizen-id/enroll/", {
        "certificate": base64.b64encode(testca.der(certificate)).decode(),
        "signature": base64.b64encode(testca.sign_nonce(key, nonce)).decode(),
        "nonce": base64.b64encode(nonce).decode()}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["basic_info"]["birth_date_wareki"] == "平成17年6月7日"


def test_demo_crl_is_not_loaded_unless_the_ca_is_trusted(settings, tmp_path, db):
    settings.JPKI_TRUST_ANCHORS = []
    assert "not loading" in _run("jpki_demo_ca", out=str(tmp_path), load=True)


def test_make_test_card_validates_and_needs_the_ca(tmp_path):
    with pytest.raises(CommandError, match="birth"):
        _run("make_test_card", name="a", address="b", birth="319800100", sex="1", out=str(tmp_path),
             ca_dir=str(tmp_path))
    with pytest.raises(CommandError, match="jpki_demo_ca"):
        _run("make_test_card", name="a", address="b", birth="319800101", sex="1", out=str(tmp_path),
             ca_dir=str(tmp_path / "none"))


def test_rotate_qr_signing_key_command(saga, jpki):
    from .conftest import enrolled

    enrolled(saga, jpki)
    token = saga.client("resident").get("/api/v1/citizen-id/qr/").json()["token"]
    old_kid = qr.parse(token).claims.kid
    output = _run("rotate_qr_signing_key", schema=[saga.schema_name])
    with saga.schema():
        assert QrSigningKey.objects.get(kid=old_kid).status == "retired"
        new_kid = QrSigningKey.objects.get(status="current").kid
    assert new_kid in output
    _run("rotate_qr_signing_key", schema=[saga.schema_name], revoke=old_kid)
    with saga.schema():
        assert QrSigningKey.objects.get(kid=old_kid).status == "revoked"
