"""Loading J-LIS CRLs: `manage.py load_jpki_crl`, its checks, and the Celery task."""
from __future__ import annotations

import io

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography import x509
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from citizen_id import testca
from citizen_id.jpki.models import JpkiCrl, JpkiRevokedCertificate
from citizen_id.jpki.verification import key_id_of

from .conftest import SAGA_CARD, enroll


def _write(tmp_path, name, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _load(*paths, **options) -> str:
    out = io.StringIO()
    call_command("load_jpki_crl", *paths, stdout=out, **options)
    return out.getvalue()


def test_load_crl_then_revoked_cards_are_refused(saga, jpki, tmp_path):
    key, certificate = jpki.card(SAGA_CARD)
    path = _write(tmp_path, "crl.der", testca.make_crl(jpki.ca, [certificate.serial_number, 99, 100], number=7))
    assert "3 revoked certificates" in _load(path)
    connection.set_schema_to_public()
    crl = JpkiCrl.objects.get(issuer_key_id=key_id_of(jpki.ca.certificate))
    assert crl.crl_number == 7 and crl.revoked_count == 3
    assert JpkiRevokedCertificate.objects.filter(crl=crl).count() == 3
    assert "already loaded" in _load(path)  # idempotent
    response = enroll(saga.client("resident"), key, certificate)
    assert response.json()["error"]["code"] == "certificate_revoked"


def test_a_newer_crl_replaces_the_list(saga, jpki, tmp_path):
    key, certificate = jpki.card(SAGA_CARD)
    _load(_write(tmp_path, "a.der", testca.make_crl(jpki.ca, [certificate.serial_number], number=8)))
    _load(_write(tmp_path, "b.der", testca.make_crl(jpki.ca, [1, 2], number=9)))
    connection.set_schema_to_public()
    assert set(JpkiRevokedCertificate.objects.filter(issuer_key_id=key_id_of(jpki.ca.certificate))
               .values_list("serial", flat=True)) == {"1", "2"}
    assert enroll(saga.client("resident"), key, certificate).status_code == 201


def test_pem_crl(jpki, tmp_path):
    der = testca.make_crl(jpki.ca, [5], number=3)
    pem = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    assert "1 revoked" in _load(_write(tmp_path, "crl.pem", pem))


def test_a_forged_crl_is_refused(jpki, tmp_path):
    """Issuer name of the trusted CA, signature by the rogue key: it must not load (it could un-revoke)."""
    forged = testca.make_crl(jpki.ca, [], number=50, signer=jpki.rogue_ca)
    with pytest.raises(CommandError, match="not signed by any"):
        _load(_write(tmp_path, "forged.der", forged))


def test_an_older_crl_is_refused(jpki, tmp_path):
    _load(_write(tmp_path, "new.der", testca.make_crl(jpki.ca, [1], number=20)))
    with pytest.raises(CommandError, match="older CRL"):
        _load(_write(tmp_path, "old.der", testca.make_crl(jpki.ca, [], number=19)))


def test_garbage_and_missing_files(jpki, tmp_path):
    with pytest.raises(CommandError, match="not a DER or PEM"):
        _load(_write(tmp_path, "junk.der", b"\x30\x82junk"))
    with pytest.raises(CommandError):
        _load(str(tmp_path / "missing.der"))
    with pytest.raises(CommandError):
        _load()


def test_status(jpki):
    connection.set_schema_to_public()
    JpkiCrl.objects.filter(issuer_name__contains="Test Signing CA 2").delete()
    output = _load(status=True)
    assert "[ok]" in output and "[STALE/MISSING]" in output


def test_celery_task_loads_a_crl(jpki, tmp_path, settings):
    from citizen_id import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = True
    path = _write(tmp_path, "crl.der", testca.make_crl(jpki.renewed_ca, [42], number=30))
    assert "1 revoked" in tasks.load_jpki_crl.apply(args=[path]).get()
