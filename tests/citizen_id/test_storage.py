"""PII at rest: a database dump reveals nothing, ciphertexts are bound to their row and municipality,
keys rotate (resumably) without re-encrypting data, and a bad keyring is reported at start-up."""
from __future__ import annotations

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.roles import Role
from citizen_id import crypto, services
from citizen_id.checks import check_configuration, check_production_keys
from citizen_id.models import CitizenId, QrSigningKey
from citizen_id import testca

from .conftest import enroll, enrolled

SECRET_NAME = "試験 太郎丸"
SECRET_ADDRESS = "佐賀県佐賀市試験町九十九番地"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _dump_text(schemas: list[str]) -> str:
    """Every row of every table in these schemas as text, like a logical dump (bytea as hex)."""
    chunks = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_schema, table_name FROM information_schema.tables "
                       "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE'", [schemas])
        for schema, table in cursor.fetchall():
            cursor.execute(f'SELECT row_to_json(t)::text FROM "{schema}"."{table}" t')
            chunks.extend(row[0] for row in cursor.fetchall())
    return "\n".join(chunks)


def test_a_database_dump_contains_no_plaintext_pii(saga, kanzaki, jpki):
    spec = testca.CardSpec(name=SECRET_NAME, address=SECRET_ADDRESS, birth="319710809", sex="1",
                           name_alt="試験 太郎", address_alt="佐賀県佐賀市試験町99番地")
    key, certificate = jpki.card(spec)
    client = saga.client("resident")
    enroll(client, key, certificate)
    client.get("/api/v1/citizen-id/")  # the resident's own read
    token = client.get("/api/v1/citizen-id/qr/").json()["token"]
    scanned = saga.client(Role.SHELTER_STAFF).post("/api/v1/staff/citizen-id/verify/",
                                                   {"token": token, "purpose": "shelter"}, format="json")
    assert scanned.json()["basic_info"]["name"] == SECRET_NAME
    card = saga.client("admin").post("/api/v1/staff/citizen-id/card-qrs/",
                                     {"reference": scanned.json()["reference"]}, format="json")
    assert card.status_code == 201
    dump = _dump_text([saga.schema_name, kanzaki.schema_name, "public"])
    assert scanned.json()["reference"] in dump  # the citizen-ID rows are in it
    forbidden = [SECRET_NAME, "試験 太郎", SECRET_ADDRESS, "試験町", "1971-08-09", "19710809", "319710809",
                 format(certificate.serial_number, "x")]
    for text in forbidden:
        assert text not in dump, text
        assert text.encode().hex() not in dump, f"{text} (hex)"
    assert base64.b64encode(testca.der(certificate)).decode()[:40] not in dump


def test_ciphertext_is_bound_to_its_row(saga, jpki):
    from .conftest import new_resident

    first = enrolled(saga, jpki)["reference"]
    _, other = new_resident(saga)
    second = enrolled(saga, jpki, testca.CardSpec(birth="420010101"), key_index=1, client=other)["reference"]
    with saga.schema():
        a, b = CitizenId.objects.get(reference=first), CitizenId.objects.get(reference=second)
        b.pii_ciphertext, b.pii_wrapped_key, b.pii_key_id = a.pii_ciphertext, a.pii_wrapped_key, a.pii_key_id
        b.save()
        with pytest.raises(crypto.DecryptionError):
            services._open_info(b)
        assert services._open_info(a).name == "佐賀 花子"


def test_ciphertext_is_bound_to_its_municipality(saga, kanzaki, jpki):
    reference = enrolled(saga, jpki)["reference"]
    with saga.schema():
        row = CitizenId.objects.get(reference=reference)
    with kanzaki.schema():
        copied = CitizenId(reference=reference, user=kanzaki.resident, pii_ciphertext=row.pii_ciphertext,
                           pii_wrapped_key=row.pii_wrapped_key, pii_key_id=row.pii_key_id, verified_at=row.verified_at)
        with pytest.raises(crypto.DecryptionError):
            services._open_info(copied)


def test_key_rotation_rewraps_resumably(saga, kanzaki, jpki, settings):
    old, new = _key(), _key()
    settings.CITIZEN_ID_PII_KEYS = f"k1:{old}"
    settings.CITIZEN_ID_PII_ACTIVE_KEY = ""
    from .conftest import new_resident

    enrolled(saga, jpki)
    _, other = new_resident(saga)
    enrolled(saga, jpki, testca.CardSpec(birth="420010101"), key_index=1, client=other)
    saga.client("resident").get("/api/v1/citizen-id/qr/")  # creates the QR signing key under k1
    with saga.schema():
        assert set(CitizenId.objects.values_list("pii_key_id", flat=True)) == {"k1"}
        assert set(QrSigningKey.objects.values_list("private_key_id", flat=True)) == {"k1"}
        before = {c.reference: bytes(c.pii_ciphertext) for c in CitizenId.objects.all()}

    settings.CITIZEN_ID_PII_KEYS = f"k2:{new},k1:{old}"
    call_command("rotate_pii_key", schema=[saga.schema_name], batch_size=1, max_batches=1)
    with saga.schema():
        assert CitizenId.objects.filter(pii_key_id="k1").count() == 1  # interrupted after one batch
    call_command("rotate_pii_key", schema=[saga.schema_name], batch_size=1)  # resumes
    with saga.schema():
        assert set(CitizenId.objects.values_list("pii_key_id", flat=True)) == {"k2"}
        assert set(QrSigningKey.objects.values_list("private_key_id", flat=True)) == {"k2"}
        # Only the data keys were re-wrapped; the data ciphertexts are untouched.
        assert {c.reference: bytes(c.pii_ciphertext) for c in CitizenId.objects.all()} == before

    settings.CITIZEN_ID_PII_KEYS = f"k2:{new}"  # the old key is gone for good
    from citizen_id import signing

    signing.clear_caches()
    assert saga.client("resident").get("/api/v1/citizen-id/").json()["basic_info"]["name"] == "佐賀 花子"
    token = saga.client("resident").get("/api/v1/citizen-id/qr/").json()["token"]
    assert saga.client(Role.SHELTER_STAFF).post("/api/v1/staff/citizen-id/verify/",
                                                {"token": token, "purpose": "shelter"},
                                                format="json").status_code == 200


def test_rotation_refuses_when_a_key_in_use_is_missing(saga, jpki, settings):
    settings.CITIZEN_ID_PII_KEYS = f"k1:{_key()}"
    enrolled(saga, jpki)
    settings.CITIZEN_ID_PII_KEYS = f"k2:{_key()}"
    with pytest.raises(CommandError, match="k1"):
        call_command("rotate_pii_key", schema=[saga.schema_name])


@pytest.mark.parametrize(("keys", "active", "message"), [
    ("k1:not-base64!", "", "base64"),
    (f"k1:{base64.b64encode(b'short').decode()}", "", "32 bytes"),
    (f"k1:{base64.b64encode(bytes(32)).decode()},k1:{base64.b64encode(bytes(32)).decode()}", "", "twice"),
    (f"k1:{base64.b64encode(bytes(32)).decode()}", "k9", "not in"),
    ("bad id!:xx", "", "look like"),
    (",", "", "no key"),
])
def test_bad_keyrings_are_reported(settings, keys, active, message):
    settings.CITIZEN_ID_PII_KEYS, settings.CITIZEN_ID_PII_ACTIVE_KEY = keys, active
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.keyring()
    assert [problem.id for problem in check_configuration(None)] == ["citizen_id.E001"]


def test_deploy_check_wants_real_keys(settings):
    settings.CITIZEN_ID_PII_KEYS = ""
    settings.CITIZEN_ID_BLIND_INDEX_KEY = ""
    ids = {problem.id for problem in check_production_keys(None)}
    assert {"citizen_id.E003", "citizen_id.E004"} <= ids
    settings.CITIZEN_ID_PII_KEYS = f"k1:{_key()}"
    settings.CITIZEN_ID_BLIND_INDEX_KEY = _key()
    assert not {"citizen_id.E003", "citizen_id.E004"} & {p.id for p in check_production_keys(None)}


def test_unreadable_trust_anchor_is_reported(settings, tmp_path):
    settings.JPKI_TRUST_ANCHORS = [str(tmp_path / "missing.pem")]
    assert [problem.id for problem in check_configuration(None)] == ["citizen_id.E002"]
    (tmp_path / "leaf.pem").write_bytes(testca.make_ca("Not a CA", is_ca=False).pem)
    settings.JPKI_TRUST_ANCHORS = [str(tmp_path / "leaf.pem")]
    assert [problem.id for problem in check_configuration(None)] == ["citizen_id.E002"]
