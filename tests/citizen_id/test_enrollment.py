"""Enrolment (本人確認) through the API: the happy path, and every refusal with its error code."""
from __future__ import annotations

import base64
import datetime as dt
import os
import random

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from citizen_id import testca
from citizen_id.jpki import profile
from citizen_id.jpki.models import JpkiCrl
from citizen_id.jpki.services import jpki_crl_load
from citizen_id.models import CitizenCard, CitizenId, EnrollmentChallenge
from tests.base import assert_num_queries

from .conftest import KANZAKI_CARD, SAGA_CARD, b64, challenge, enroll, new_resident


def _code(response) -> str:
    return response.json()["error"]["code"]


def test_resident_enrolls_with_a_card_and_gets_a_citizen_id(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["action"] == "issued" and body["status"] == "active"
    assert len(body["reference"]) == 16 and body["reference"].isalnum()
    assert body["basic_info"] == {
        "name": "佐賀 花子", "name_alt": "", "address": "佐賀県佐賀市栄町1番1号", "address_alt": "",
        "birth_date": "1980-01-02", "birth_date_wareki": "昭和55年1月2日", "sex": 2, "sex_label": "女性",
        "sex_label_en": "female"}
    with saga.schema():
        citizen = CitizenId.objects.get(reference=body["reference"])
        assert citizen.user_id == saga.resident.pk
        assert citizen.card_not_after == certificate.not_valid_after_utc
        assert CitizenCard.objects.filter(citizen=citizen).count() == 1
        assert AuditEvent.objects.filter(action="citizen_id.issued", target_id=str(citizen.pk),
                                         actor=saga.resident).exists()
        assert not EnrollmentChallenge.objects.exists()  # the challenge was spent


def test_a_card_from_the_renewed_ca_is_trusted_too(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD, ca=jpki.renewed_ca)
    assert enroll(saga.client("resident"), key, certificate).status_code == 201


def test_substitute_character_fields_are_kept(saga, jpki):
    spec = testca.CardSpec(name="髙橋 花子", name_alt="高橋 花子", address="佐賀県佐賀市栄町１番１号",
                           address_alt="佐賀県佐賀市栄町1番1号", birth="420000229", sex="3")
    key, certificate = jpki.card(spec)
    body = enroll(saga.client("resident"), key, certificate).json()
    assert body["basic_info"]["name_alt"] == "高橋 花子"
    assert body["basic_info"]["birth_date"] == "2000-02-29"
    assert body["basic_info"]["birth_date_wareki"] == "平成12年2月29日"
    assert body["basic_info"]["sex_label_en"] == "other or unknown"


def test_kanzaki_resident_enrolls_on_kanzaki_but_not_on_saga(saga, kanzaki, jpki):
    key, certificate = jpki.card(KANZAKI_CARD)
    refused = enroll(saga.client("resident"), key, certificate)
    assert refused.status_code == 403 and _code(refused) == "not_resident"
    assert "佐賀県神埼市" not in refused.content.decode()  # the address is not echoed back
    assert enroll(kanzaki.client("resident"), key, certificate).status_code == 201


# --- nonce_invalid ------------------------------------------------------------------------------------
def test_unknown_nonce(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    response = enroll(saga.client("resident"), key, certificate, nonce=os.urandom(32))
    assert response.status_code == 400 and _code(response) == "nonce_invalid"
    assert "nonce" in response.json()["error"]["fields"]


def test_replayed_nonce(saga, jpki):
    client = saga.client("resident")
    key, certificate = jpki.card(SAGA_CARD)
    nonce = challenge(client)
    assert enroll(client, key, certificate, nonce=nonce).status_code == 201
    replay = enroll(client, key, certificate, nonce=nonce)
    assert replay.status_code == 400 and _code(replay) == "nonce_invalid"


def test_a_failed_attempt_spends_the_nonce(saga, jpki):
    client = saga.client("resident")
    key, certificate = jpki.card(SAGA_CARD)
    nonce = challenge(client)
    assert _code(enroll(client, key, certificate, nonce=nonce, sign_with=jpki.keys[1])) == "signature_invalid"
    assert _code(enroll(client, key, certificate, nonce=nonce)) == "nonce_invalid"


def test_another_residents_nonce(saga, jpki):
    _, other = new_resident(saga)
    nonce = challenge(other)
    key, certificate = jpki.card(SAGA_CARD)
    assert _code(enroll(saga.client("resident"), key, certificate, nonce=nonce)) == "nonce_invalid"
    assert enroll(other, key, certificate, nonce=nonce).status_code == 201  # still good for its owner


def test_expired_nonce(saga, jpki):
    client = saga.client("resident")
    nonce = challenge(client)
    with saga.schema():
        EnrollmentChallenge.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    key, certificate = jpki.card(SAGA_CARD)
    assert _code(enroll(client, key, certificate, nonce=nonce)) == "nonce_invalid"


def test_malformed_nonce(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    response = saga.client("resident").post("/api/v1/citizen-id/enroll/", {
        "certificate": b64(testca.der(certificate)), "signature": b64(b"x" * 256), "nonce": "not base64!"},
        format="json")
    assert response.status_code == 400 and _code(response) == "nonce_invalid"


def test_challenge_lives_five_minutes(saga):
    response = saga.client("resident").post("/api/v1/citizen-id/challenge/")
    expires_at = dt.datetime.fromisoformat(response.json()["expires_at"])
    assert 295 <= (expires_at - timezone.now()).total_seconds() <= 300
    assert len(base64.b64decode(response.json()["nonce"], validate=True)) == 32


# --- signature_invalid ----------------------------------------------------------------------------------
def test_signature_by_another_key(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    response = enroll(saga.client("resident"), key, certificate, sign_with=jpki.keys[2])
    assert response.status_code == 400 and _code(response) == "signature_invalid"


def test_signature_over_other_bytes(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    response = enroll(saga.client("resident"), key, certificate, message=b"something else")
    assert _code(response) == "signature_invalid"


def test_malformed_signature(saga, jpki):
    client = saga.client("resident")
    nonce = challenge(client)
    _, certificate = jpki.card(SAGA_CARD)
    response = client.post("/api/v1/citizen-id/enroll/", {
        "certificate": b64(testca.der(certificate)), "signature": "@@@", "nonce": b64(nonce)}, format="json")
    assert response.status_code == 400 and _code(response) == "signature_invalid"


# --- certificate_untrusted ---------------------------------------------------------------------------------
def test_card_from_a_rogue_ca_with_the_same_name(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD, ca=jpki.rogue_ca)
    assert certificate.issuer == jpki.ca.certificate.subject
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 400 and _code(response) == "certificate_untrusted"


def test_self_signed_card(saga, jpki):
    own = testca.SigningCa(jpki.keys[0], testca.make_ca("Self", key=jpki.keys[0], is_ca=False).certificate)
    key, certificate = testca.make_card(own, SAGA_CARD, key=jpki.keys[0])
    assert _code(enroll(saga.client("resident"), key, certificate)) == "certificate_untrusted"


@pytest.mark.parametrize("usage", [("key_encipherment",), ("key_agreement",), ()])
def test_wrong_key_usage(saga, jpki, usage):
    spec = testca.CardSpec(**{**SAGA_CARD.__dict__, "key_usage": usage})
    key, certificate = jpki.card(spec)
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 400 and _code(response) == "certificate_untrusted"
    assert "key usage" in response.json()["error"]["fields"]["certificate"][0]


def test_a_ca_certificate_is_not_a_card(saga, jpki):
    spec = testca.CardSpec(**{**SAGA_CARD.__dict__, "key_usage": ("digital_signature", "key_cert_sign")})
    key, certificate = jpki.card(spec)
    assert _code(enroll(saga.client("resident"), key, certificate)) == "certificate_untrusted"


def test_an_expired_trust_anchor_trusts_nothing(saga, jpki, settings, tmp_path):
    old = testca.make_ca("Old Signing CA", not_before=testca.utcnow() - dt.timedelta(days=400),
                         not_after=testca.utcnow() - dt.timedelta(days=1))
    (tmp_path / "old.pem").write_bytes(old.pem)
    settings.JPKI_TRUST_ANCHORS = [*jpki.anchor_paths, str(tmp_path / "old.pem")]
    connection.set_schema_to_public()
    key, certificate = testca.make_card(old, SAGA_CARD, key=jpki.keys[0])
    assert _code(enroll(saga.client("resident"), key, certificate)) == "certificate_untrusted"


# --- certificate_expired / revoked ---------------------------------------------------------------------
def test_expired_card(saga, jpki):
    spec = testca.CardSpec(**{**SAGA_CARD.__dict__, "not_before": testca.utcnow() - dt.timedelta(days=2000),
                              "not_after": testca.utcnow() - dt.timedelta(minutes=1)})
    key, certificate = jpki.card(spec)
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 400 and _code(response) == "certificate_expired"


def test_card_not_yet_valid(saga, jpki):
    spec = testca.CardSpec(**{**SAGA_CARD.__dict__, "not_before": testca.utcnow() + dt.timedelta(days=1)})
    key, certificate = jpki.card(spec)
    assert _code(enroll(saga.client("resident"), key, certificate)) == "certificate_expired"


def test_revoked_card(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    connection.set_schema_to_public()
    jpki_crl_load(data=testca.make_crl(jpki.ca, [certificate.serial_number, 12345], number=2))
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 403 and _code(response) == "certificate_revoked"
    with saga.schema():
        assert AuditEvent.objects.filter(action="citizen_id.enroll_refused", data__code="certificate_revoked").exists()


def test_no_crl_for_the_issuer_fails_closed(saga, jpki):
    connection.set_schema_to_public()
    JpkiCrl.objects.filter(issuer_name__contains="Test Signing CA 2").delete()
    key, certificate = jpki.card(SAGA_CARD, ca=jpki.renewed_ca)
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 503 and _code(response) == "revocation_status_unavailable"


def test_a_stale_crl_fails_closed(saga, jpki, settings):
    settings.JPKI_CRL_GRACE_HOURS = 1
    connection.set_schema_to_public()
    JpkiCrl.objects.update(next_update=timezone.now() - dt.timedelta(hours=2))
    key, certificate = jpki.card(SAGA_CARD)
    assert _code(enroll(saga.client("resident"), key, certificate)) == "revocation_status_unavailable"


def test_no_trust_anchors_configured(saga, jpki, settings):
    settings.JPKI_TRUST_ANCHORS = []
    key, certificate = jpki.card(SAGA_CARD)
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 503 and _code(response) == "service_unavailable"


# --- certificate_malformed ----------------------------------------------------------------------------
# Random bytes from a fixed seed: parametrize ids must be identical in every xdist worker.
@pytest.mark.parametrize("certificate", ["not base64 at all", b64(b"\x30\x03\x02\x01\x01"),
                                         b64(random.Random(412015).randbytes(300)), ""])
def test_certificate_that_is_not_der_x509(saga, jpki, certificate):
    client = saga.client("resident")
    nonce = challenge(client)
    response = client.post("/api/v1/citizen-id/enroll/", {
        "certificate": certificate, "signature": b64(testca.sign_nonce(jpki.keys[0], nonce)), "nonce": b64(nonce)},
        format="json")
    assert response.status_code == 400
    assert _code(response) in ("certificate_malformed", "validation_error")
    if certificate:
        assert _code(response) == "certificate_malformed"


@pytest.mark.parametrize("change", [
    {"omit": (profile.OID_BIRTH,)},
    {"omit": (profile.OID_NAME,)},
    {"omit": (profile.OID_ADDRESS,)},
    {"omit": (profile.OID_SEX,)},
    {"san": False},
    {"birth": "319800000"},  # partial date
    {"birth": "319800100"},
    {"birth": "3198001"},
    {"birth": "919800102"},  # unknown era digit
    {"birth": "319800230"},  # 30 February
    {"sex": "4"},
    {"name": "   "},
], ids=str)
def test_certificate_without_the_basic_four(saga, jpki, change):
    key, certificate = jpki.card(testca.CardSpec(**{**SAGA_CARD.__dict__, **change}))
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 400 and _code(response) == "certificate_malformed", response.content


def test_other_name_that_is_not_a_utf8string(saga, jpki):
    from cryptography import x509
    from cryptography.x509.oid import ObjectIdentifier
    from pyasn1.codec.der import encoder
    from pyasn1.type import char

    spec = testca.CardSpec(**{**SAGA_CARD.__dict__, "omit": (profile.OID_NAME,)})
    key, certificate = jpki.card(spec)
    # Rebuild with the name as a PrintableString.
    builder_key = jpki.keys[0]
    san = [testca.other_name(profile.OID_ADDRESS, SAGA_CARD.address), testca.other_name(profile.OID_SEX, "2"),
           testca.other_name(profile.OID_BIRTH, "319800102"),
           x509.OtherName(ObjectIdentifier(profile.OID_NAME), encoder.encode(char.PrintableString("Saga Hanako")))]
    from cryptography.hazmat.primitives import hashes

    certificate = (x509.CertificateBuilder().subject_name(certificate.subject).issuer_name(certificate.issuer)
                   .public_key(builder_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(certificate.not_valid_before_utc).not_valid_after(certificate.not_valid_after_utc)
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), True)
                   .add_extension(x509.SubjectAlternativeName(san), False).sign(jpki.ca.key, hashes.SHA256()))
    assert _code(enroll(saga.client("resident"), builder_key, certificate)) == "certificate_malformed"


def test_non_rsa_card_key(saga, jpki):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    _, template = jpki.card(SAGA_CARD)
    from cryptography import x509

    certificate = (x509.CertificateBuilder().subject_name(template.subject).issuer_name(template.issuer)
                   .public_key(ec_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(template.not_valid_before_utc).not_valid_after(template.not_valid_after_utc)
                   .add_extension(template.extensions.get_extension_for_class(x509.SubjectAlternativeName).value, False)
                   .sign(jpki.ca.key, hashes.SHA256()))
    client = saga.client("resident")
    nonce = challenge(client)
    response = client.post("/api/v1/citizen-id/enroll/", {
        "certificate": b64(testca.der(certificate)), "nonce": b64(nonce),
        "signature": b64(ec_key.sign(nonce, ec.ECDSA(hashes.SHA256())))}, format="json")
    assert _code(response) == "certificate_malformed"


# --- not_resident -----------------------------------------------------------------------------------
@pytest.mark.parametrize("address", ["東京都佐賀市1-1", "佐賀県神埼市神埼町1", "佐賀県佐賀郡1", "佐賀市栄町1番1号"])
def test_address_outside_the_municipality(saga, jpki, address):
    key, certificate = jpki.card(testca.CardSpec(**{**SAGA_CARD.__dict__, "address": address}))
    response = enroll(saga.client("resident"), key, certificate)
    assert response.status_code == 403 and _code(response) == "not_resident"


def test_address_prefix_from_municipality_settings(saga, jpki):
    """A merged municipality can list the prefixes its addresses start with."""
    municipality = saga.municipality
    connection.set_schema_to_public()
    municipality.settings["citizen_id_address_prefixes"] = ["佐賀県佐賀郡"]
    municipality.save(update_fields=["settings"])  # clears the host cache
    try:
        key, certificate = jpki.card(testca.CardSpec(**{**SAGA_CARD.__dict__, "address": "佐賀県佐賀郡1"}))
        assert enroll(saga.client("resident"), key, certificate).status_code == 201
        key, certificate = jpki.card(SAGA_CARD, key_index=1)
        assert _code(enroll(new_resident(saga)[1], key, certificate)) == "not_resident"
    finally:
        municipality.settings.pop("citizen_id_address_prefixes")
        municipality.save(update_fields=["settings"])


# --- One card, one citizen ID -------------------------------------------------------------------------
def test_renewed_card_keeps_the_citizen_id(saga, jpki):
    client = saga.client("resident")
    first = enroll(client, *jpki.card(SAGA_CARD)).json()
    moved = testca.CardSpec(**{**SAGA_CARD.__dict__, "address": "佐賀県佐賀市城内1丁目1番59号", "name": "佐賀 華子"})
    key, certificate = jpki.card(moved, key_index=1)
    response = enroll(client, key, certificate)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["action"] == "renewed" and body["reference"] == first["reference"]
    assert body["basic_info"]["address"] == "佐賀県佐賀市城内1丁目1番59号"
    with saga.schema():
        citizen = CitizenId.objects.get(reference=first["reference"])
        assert citizen.cards.count() == 2


def test_same_card_again_reverifies(saga, jpki):
    client = saga.client("resident")
    key, certificate = jpki.card(SAGA_CARD)
    first = enroll(client, key, certificate).json()
    again = enroll(client, key, certificate)
    assert again.status_code == 200 and again.json()["action"] == "reverified"
    assert again.json()["reference"] == first["reference"]


def test_someone_elses_card_does_not_take_over_a_citizen_id(saga, jpki):
    client = saga.client("resident")
    enroll(client, *jpki.card(SAGA_CARD))
    father = testca.CardSpec(name="佐賀 太郎", address=SAGA_CARD.address, birth="319500505", sex="1")
    response = enroll(client, *jpki.card(father, key_index=1))
    assert response.status_code == 409 and _code(response) == "citizen_id_conflict"


def test_same_card_on_a_new_phone_moves_the_citizen_id(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    first = enroll(saga.client("resident"), key, certificate).json()
    new_user, new_phone = new_resident(saga, "新しいスマホ")
    moved = enroll(new_phone, key, certificate)
    assert moved.status_code == 200 and moved.json()["action"] == "transferred"
    assert moved.json()["reference"] == first["reference"]
    assert saga.client("resident").get("/api/v1/citizen-id/").status_code == 404
    with saga.schema():
        assert CitizenId.objects.get(reference=first["reference"]).user_id == new_user.pk
        assert CitizenId.objects.count() == 1


def test_a_card_bound_elsewhere_cannot_join_an_account_with_its_own_id(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    enroll(saga.client("resident"), key, certificate)
    _, other = new_resident(saga)
    enroll(other, *jpki.card(testca.CardSpec(**{**SAGA_CARD.__dict__, "birth": "420010101"}), key_index=2))
    assert _code(enroll(other, key, certificate)) == "citizen_id_conflict"


# --- Who may enrol, rate limits, query counts -------------------------------------------------------
@pytest.mark.parametrize("who", ["admin", Role.SHELTER_STAFF])
def test_staff_accounts_cannot_enrol(saga, jpki, who):
    assert saga.client(who).post("/api/v1/citizen-id/challenge/").status_code == 403
    assert saga.client(who).post("/api/v1/citizen-id/enroll/", {}, format="json").status_code == 403


def test_anonymous_cannot_enrol(saga):
    assert saga.client().post("/api/v1/citizen-id/challenge/").status_code == 401


def test_enrolment_is_rate_limited(saga, jpki, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "citizen_id_challenge": "2/hour"}}
    client = saga.client("resident")
    assert [client.post("/api/v1/citizen-id/challenge/").status_code for _ in range(3)] == [201, 201, 429]


def test_challenge_query_count(saga):
    client = saga.client("resident")
    client.post("/api/v1/citizen-id/challenge/")
    with assert_num_queries(3):  # search_path, token, insert
        assert client.post("/api/v1/citizen-id/challenge/").status_code == 201


def test_enrol_query_count(saga, jpki):
    client = saga.client("resident")
    key, certificate = jpki.card(SAGA_CARD)
    nonce = challenge(client)
    body = {"certificate": b64(testca.der(certificate)), "signature": b64(testca.sign_nonce(key, nonce)),
            "nonce": b64(nonce)}
    # search_path, token; spend the nonce (1 statement); CRL and revoked-serial lookups; then in one
    # transaction: card and own-ID lookups (locked), reference uniqueness, insert citizen ID, card
    # upsert (select + insert), audit row; 7 of the 18 are the test transaction's savepoints.
    with assert_num_queries(18):
        assert client.post("/api/v1/citizen-id/enroll/", body, format="json").status_code == 201
