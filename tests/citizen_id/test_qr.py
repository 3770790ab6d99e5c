"""The QR (市民証二次元コード): issue, staff scan, every refusal, roles, printed card QRs, published keys."""
from __future__ import annotations

import base64
import secrets
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import connection

from accounts.models import AuditEvent
from accounts.roles import Role
from citizen_id import qr, services, signing
from citizen_id.models import CardQr, CitizenId
from tests.base import STAFF_ROLES, assert_num_queries

from .conftest import KANZAKI_CARD, SAGA_CARD, enrolled

VERIFY = "/api/v1/staff/citizen-id/verify/"


def _code(response) -> str:
    return response.json()["error"]["code"]


def _qr(tenant) -> dict:
    response = tenant.client("resident").get("/api/v1/citizen-id/qr/")
    assert response.status_code == 200, response.content
    return response.json()


def _scan(tenant, token, who=Role.SHELTER_STAFF, purpose="shelter"):
    return tenant.client(who).post(VERIFY, {"token": token, "purpose": purpose}, format="json")


def _forge(tenant, reference, *, prefix=qr.APP_PREFIX, iat=None, exp=None, nonce=None, code=None) -> str:
    """A token signed with the tenant's real key, with whatever claims the test needs."""
    with tenant.schema():
        key = signing.signing_key()
    iat = int(time.time()) if iat is None else iat
    claims = qr.QrClaims(prefix=prefix, kid=key.kid, municipality_code=code or tenant.municipality.code,
                         reference=reference, iat=iat, exp=iat + 60 if exp is None else exp,
                         nonce=nonce or secrets.token_hex(8))
    return qr.encode(claims, key.private_key)


@pytest.fixture
def citizen(saga, jpki) -> dict:
    return enrolled(saga, jpki, SAGA_CARD)


# --- The resident's QR -------------------------------------------------------------------------------
def test_qr_token_is_compact_signed_and_holds_no_pii(saga, citizen):
    body = _qr(saga)
    token = body["token"]
    assert token.startswith("CI1:") and len(token) == 160
    assert set(token[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")  # QR alphanumeric mode
    parsed = qr.parse(token)
    assert parsed.claims.municipality_code == "412015"
    assert parsed.claims.reference == citizen["reference"] == body["reference"]
    assert parsed.claims.exp - parsed.claims.iat == 60
    raw = base64.b32decode(token[4:] + "=" * (-len(token[4:]) % 8))
    for secret in ("佐賀 花子", "栄町", "1980"):
        assert secret.encode() not in raw


@pytest.mark.parametrize(("fmt", "content_type", "magic"), [
    ("svg", "image/svg+xml", b"<svg"), ("png", "image/png", b"\x89PNG\r\n\x1a\n")])
def test_qr_image(saga, citizen, fmt, content_type, magic):
    response = saga.client("resident").get(f"/api/v1/citizen-id/qr/?format={fmt}")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type and response["Cache-Control"] == "no-store"
    assert response.content.startswith(magic)


def test_qr_format_must_be_known(saga, citizen):
    response = saga.client("resident").get("/api/v1/citizen-id/qr/?format=gif")
    assert response.status_code == 400 and _code(response) == "validation_error"


def test_no_qr_without_a_citizen_id(saga, jpki):
    assert saga.client("resident").get("/api/v1/citizen-id/qr/").status_code == 404


def test_qr_query_count(saga, citizen):
    client = saga.client("resident")
    client.get("/api/v1/citizen-id/qr/")
    with assert_num_queries(3):  # search_path, token, the citizen ID (the signing key is cached)
        assert client.get("/api/v1/citizen-id/qr/").status_code == 200


# --- Staff scan ---------------------------------------------------------------------------------------
def test_shelter_staff_scan_returns_the_basic_four_and_is_audited(saga, citizen):
    token = _qr(saga)["token"]
    response = _scan(saga, token)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reference"] == citizen["reference"] and body["via"] == "app" and body["purpose"] == "shelter"
    assert body["basic_info"]["name"] == "佐賀 花子"
    assert body["basic_info"]["address"] == "佐賀県佐賀市栄町1番1号"
    assert body["basic_info"]["birth_date"] == "1980-01-02"
    assert body["basic_info"]["sex"] == 2
    with saga.schema():
        event = AuditEvent.objects.get(action="citizen_id.scanned")
        assert event.actor == saga.staff[Role.SHELTER_STAFF]
        assert event.target_id == str(CitizenId.objects.get(reference=citizen["reference"]).pk)
        assert event.data["purpose"] == "shelter" and event.data["via"] == "app"
        assert "佐賀 花子" not in str(event.data)


def test_scan_query_count(saga, citizen):
    """At most 4 queries per scan: here 2 (citizen lookup, audit row) on top of the request's own
    3 (search_path, token, the staff member's roles)."""
    client = saga.client(Role.SHELTER_STAFF)
    client.post(VERIFY, {"token": _qr(saga)["token"], "purpose": "shelter"}, format="json")  # warm the key cache
    token = _qr(saga)["token"]
    with assert_num_queries(5):
        assert client.post(VERIFY, {"token": token, "purpose": "shelter"}, format="json").status_code == 200


def test_scan_service_queries(saga, citizen):
    token, second = _qr(saga)["token"], _qr(saga)["token"]
    signing.clear_caches()
    with saga.schema():
        staff = saga.staff[Role.SHELTER_STAFF]
        with assert_num_queries(5):  # search_path, municipality (no request tenant here), key, citizen, audit
            services.citizen_qr_verify(token=token, purpose="shelter", staff=staff)
        connection.tenant = saga.municipality  # as in a request
        with assert_num_queries(2):  # warm: citizen lookup, audit row
            services.citizen_qr_verify(token=second, purpose="shelter", staff=staff)


def test_expired_qr(saga, citizen):
    token = _forge(saga, citizen["reference"], iat=int(time.time()) - 120, exp=int(time.time()) - 60)
    response = _scan(saga, token)
    assert response.status_code == 400 and _code(response) == "qr_expired"


@pytest.mark.parametrize("position", [6, 20, 40, 100, 150])  # kid, reference, times/nonce, signature
def test_tampered_qr(saga, citizen, position):
    token = _qr(saga)["token"]
    replacement = "A" if token[position] != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1:]
    response = _scan(saga, tampered)
    assert response.status_code == 400 and _code(response) == "qr_invalid"


@pytest.mark.parametrize(("token", "code"), [
    ("", "validation_error"), ("CI1:" + "A" * 300, "validation_error"), ("hello", "qr_invalid"), ("CI1:", "qr_invalid"),
    ("XX1:" + "A" * 156, "qr_invalid"), ("CI1:" + "a" * 156, "qr_invalid"), ("CI1:" + "A" * 155, "qr_invalid"),
    ("CI1:" + "8" * 156, "qr_invalid"), ("CI1:" + "A" * 155 + "B", "qr_invalid"),  # non-canonical last character
    ("CI1:" + "A" * 156, "qr_wrong_municipality"),  # well-formed, municipality code 000000
], ids=lambda value: value[:12] if isinstance(value, str) else value)
def test_malformed_qr(saga, citizen, token, code):
    response = _scan(saga, token)
    assert response.status_code == 400 and _code(response) == code


def test_app_qr_cannot_claim_a_long_life(saga, citizen):
    assert _code(_scan(saga, _forge(saga, citizen["reference"], exp=int(time.time()) + 3600))) == "qr_invalid"


def test_qr_from_the_future(saga, citizen):
    now = int(time.time())
    assert _code(_scan(saga, _forge(saga, citizen["reference"], iat=now + 600, exp=now + 630))) == "qr_invalid"


def test_replayed_qr(saga, citizen):
    token = _qr(saga)["token"]
    assert _scan(saga, token).status_code == 200
    replay = _scan(saga, token, who=Role.DISASTER_STAFF)
    assert replay.status_code == 409 and _code(replay) == "qr_replayed"
    with saga.schema():
        assert AuditEvent.objects.filter(action="citizen_id.scanned").count() == 1


def test_saga_qr_scanned_on_kanzakis_host_fails(saga, kanzaki, citizen):
    token = _qr(saga)["token"]
    response = _scan(kanzaki, token)
    assert response.status_code == 400 and _code(response) == "qr_wrong_municipality"
    assert "佐賀 花子" not in response.content.decode()


def test_qr_signed_with_another_municipalitys_key(saga, kanzaki, citizen):
    """Saga's code and a real reference, but Kanzaki's key: the signature does not verify at Saga."""
    with kanzaki.schema():
        kanzaki_key = signing.signing_key()
    now = int(time.time())
    claims = qr.QrClaims(prefix=qr.APP_PREFIX, kid=kanzaki_key.kid, municipality_code="412015",
                         reference=citizen["reference"], iat=now, exp=now + 60, nonce=secrets.token_hex(8))
    response = _scan(saga, qr.encode(claims, kanzaki_key.private_key))
    assert response.status_code == 400 and _code(response) == "qr_invalid"
    # Even a Saga kid with Kanzaki's private key fails.
    with saga.schema():
        saga_kid = signing.signing_key().kid
    forged = qr.encode(qr.QrClaims(**{**claims.__dict__, "kid": saga_kid}), kanzaki_key.private_key)
    assert _code(_scan(saga, forged)) == "qr_invalid"


def test_kanzaki_resident_qr_is_verified_at_kanzaki_only(saga, kanzaki, jpki):
    enrolled(kanzaki, jpki, KANZAKI_CARD)
    token = _qr(kanzaki)["token"]
    assert _code(_scan(saga, token)) == "qr_wrong_municipality"
    ok = _scan(kanzaki, token)
    assert ok.status_code == 200 and ok.json()["basic_info"]["name"] == "神埼 一郎"


def test_revoked_citizen_id(saga, citizen):
    token = _qr(saga)["token"]
    assert saga.client("resident").delete("/api/v1/citizen-id/").status_code == 204
    response = _scan(saga, token)
    assert response.status_code == 410 and _code(response) == "citizen_id_revoked"


def test_suspended_citizen_id(saga, citizen):
    token = _qr(saga)["token"]
    with saga.schema():
        CitizenId.objects.update(status=CitizenId.Status.SUSPENDED, status_reason="card_revoked")
    assert _code(_scan(saga, token)) == "citizen_id_revoked"
    response = saga.client("resident").get("/api/v1/citizen-id/qr/")
    assert response.status_code == 409 and _code(response) == "citizen_id_suspended"


def test_unknown_reference_with_a_valid_signature(saga, citizen):
    token = _forge(saga, qr.reference_from_bytes(secrets.token_bytes(10)))
    assert _code(_scan(saga, token)) == "citizen_id_revoked"


# --- Who may scan -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("who", "purpose", "status"), [
    (Role.SHELTER_STAFF, "shelter", 200), (Role.DISASTER_STAFF, "shelter", 200), ("admin", "counter", 200),
    (Role.COMMUNITY_MODERATOR, "event", 200), (Role.COMMUNITY_MODERATOR, "shelter", 403),
    (Role.SHELTER_STAFF, "counter", 403), (Role.TEACHER, "shelter", 403), (Role.ANALYST, "event", 403),
    ("resident", "shelter", 403), (None, "shelter", 401),
])
def test_roles_and_purposes(saga, citizen, who, purpose, status):
    response = _scan(saga, _qr(saga)["token"], who=who, purpose=purpose)
    assert response.status_code == status, response.content
    if status != 200:
        assert "佐賀 花子" not in response.content.decode()
        with saga.schema():
            assert not AuditEvent.objects.filter(action="citizen_id.scanned").exists()


def test_verify_is_rate_limited(saga, citizen, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "citizen_id_verify": "2/minute"}}
    codes = [_scan(saga, _qr(saga)["token"]).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- Published keys and rotation ----------------------------------------------------------------------
def test_keys_are_published_and_verify_offline(saga, citizen):
    token = _qr(saga)["token"]
    response = saga.client().get("/api/v1/citizen-id/keys/")
    assert response.status_code == 200
    body = response.json()
    assert body["municipality_code"] == "412015" and "Ed25519" in body["token_format"]
    parsed = qr.parse(token)
    key = next(k for k in body["keys"] if k["kid"] == parsed.claims.kid)
    assert key["jwk"]["kty"] == "OKP" and key["jwk"]["crv"] == "Ed25519" and key["status"] == "current"
    raw = base64.urlsafe_b64decode(key["public_key"] + "==")
    assert parsed.verify(Ed25519PublicKey.from_public_bytes(raw))  # what a staff tablet does offline
    assert "private" not in response.content.decode()


def test_keys_query_count(saga, citizen):
    client = saga.client()
    client.get("/api/v1/citizen-id/keys/")  # the first call creates the municipality's key
    with assert_num_queries(3):  # search_path, current key, published keys
        assert client.get("/api/v1/citizen-id/keys/").status_code == 200


def test_rotation_keeps_old_tokens_valid_and_revocation_kills_them(saga, citizen):
    old_token = _qr(saga)["token"]
    old_kid = qr.parse(old_token).claims.kid
    with saga.schema():
        new_key = signing.qr_signing_key_rotate()
    signing.clear_caches()
    new_token = _qr(saga)["token"]
    assert qr.parse(new_token).claims.kid == new_key.kid != old_kid
    keys = {k["kid"]: k["status"] for k in saga.client().get("/api/v1/citizen-id/keys/").json()["keys"]}
    assert keys == {old_kid: "retired", new_key.kid: "current"}
    assert _scan(saga, old_token).status_code == 200
    with saga.schema():
        signing.qr_signing_key_revoke(kid=old_kid)
    signing.clear_caches()
    assert _code(_scan(saga, _forge_with_kid(saga, citizen["reference"], old_kid))) == "qr_invalid"
    assert old_kid not in {k["kid"] for k in saga.client().get("/api/v1/citizen-id/keys/").json()["keys"]}
    assert _scan(saga, new_token).status_code == 200


def _forge_with_kid(tenant, reference, kid) -> str:
    with tenant.schema():
        key = signing.signing_key_by_kid(kid) or _revoked_key(kid)
    now = int(time.time())
    return qr.encode(qr.QrClaims(prefix=qr.APP_PREFIX, kid=kid, municipality_code=tenant.municipality.code,
                                 reference=reference, iat=now, exp=now + 60, nonce=secrets.token_hex(8)),
                     key.private_key)


def _revoked_key(kid):
    from citizen_id.models import QrSigningKey

    row = QrSigningKey.objects.get(kid=kid)
    return signing.SigningKey(kid, signing._unseal(row))


def test_the_private_key_is_sealed_at_rest(saga, citizen):
    from citizen_id.models import QrSigningKey

    _qr(saga)
    with saga.schema():
        row = QrSigningKey.objects.get()
        key = signing.signing_key()
    from cryptography.hazmat.primitives import serialization

    raw = key.private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
    assert raw not in bytes(row.private_ciphertext) and len(bytes(row.private_ciphertext)) == 12 + 32 + 16


# --- Printed card QRs ---------------------------------------------------------------------------------
def _issue_card(tenant, reference, who="admin"):
    return tenant.client(who).post("/api/v1/staff/citizen-id/card-qrs/", {"reference": reference}, format="json")


def test_card_qr_lifecycle(saga, citizen):
    response = _issue_card(saga, citizen["reference"])
    assert response.status_code == 201, response.content
    card = response.json()
    assert card["token"].startswith("CC1:") and card["reference"] == citizen["reference"]
    days = (qr.parse(card["token"]).claims.exp - qr.parse(card["token"]).claims.iat) / 86400
    assert days == 365
    # Scanned again and again: a printed card is not single-use.
    for _ in range(2):
        scanned = _scan(saga, card["token"])
        assert scanned.status_code == 200 and scanned.json()["via"] == "card"
    admin = saga.client("admin")
    again = admin.get(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/")
    assert again.status_code == 200 and again.json()["token"] == card["token"]
    svg = admin.get(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/?format=svg")
    assert svg["Content-Type"] == "image/svg+xml" and svg.content.startswith(b"<svg")
    revoked = admin.delete(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = _scan(saga, card["token"])
    assert refused.status_code == 410 and _code(refused) == "qr_revoked"
    assert admin.get(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/").status_code == 410
    with saga.schema():
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"citizen_id.card_qr_issued", "citizen_id.card_qr_revoked"} <= actions


def test_card_qr_expiry_is_set_by_the_municipality(saga, citizen):
    municipality = saga.municipality
    connection.set_schema_to_public()
    municipality.settings["citizen_id_card_qr_days"] = 730
    municipality.save(update_fields=["settings"])
    try:
        claims = qr.parse(_issue_card(saga, citizen["reference"]).json()["token"]).claims
        assert claims.exp - claims.iat == 730 * 86400
    finally:
        municipality.settings.pop("citizen_id_card_qr_days")
        municipality.save(update_fields=["settings"])


def test_revoking_the_citizen_id_revokes_its_card_qrs(saga, citizen):
    token = _issue_card(saga, citizen["reference"]).json()["token"]
    saga.client("resident").delete("/api/v1/citizen-id/")
    assert _code(_scan(saga, token)) == "qr_revoked"
    with saga.schema():
        assert CardQr.objects.get().revoked_by == saga.resident


def test_forged_card_serial(saga, citizen):
    token = _forge(saga, citizen["reference"], prefix=qr.CARD_PREFIX, exp=int(time.time()) + 86400)
    assert _code(_scan(saga, token)) == "qr_invalid"


def test_an_app_token_is_not_a_card_token(saga, citizen):
    """The prefix is signed: relabelling an app token as a card token breaks the signature."""
    token = _qr(saga)["token"]
    assert _code(_scan(saga, "CC1:" + token[4:])) == "qr_invalid"


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_only_admins_issue_card_qrs(saga, citizen, role):
    assert _issue_card(saga, citizen["reference"], who=role).status_code == 403


def test_card_qr_for_an_unknown_reference(saga, citizen):
    assert _issue_card(saga, "A" * 16).status_code == 404


def test_card_qr_of_another_municipality_is_not_found(saga, kanzaki, citizen):
    card = _issue_card(saga, citizen["reference"]).json()
    assert kanzaki.client("admin").get(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/").status_code == 404
    assert kanzaki.client("admin").delete(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/").status_code == 404
    assert _issue_card(kanzaki, citizen["reference"]).status_code == 404
    assert _code(_scan(kanzaki, card["token"])) == "qr_wrong_municipality"


def test_card_qr_query_counts(saga, citizen):
    admin = saga.client("admin")
    card = _issue_card(saga, citizen["reference"]).json()
    with assert_num_queries(5):  # search_path, token, roles, card + citizen, key by kid
        assert admin.get(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/").status_code == 200


def test_card_qr_issue_and_revoke_query_counts(saga, citizen):
    admin = saga.client("admin")
    _qr(saga)  # the municipality's signing key exists and is cached
    admin.get("/api/v1/me/")
    with assert_num_queries(8):  # search_path, token, roles, citizen; savepoint, insert, audit, release
        card = _issue_card(saga, citizen["reference"]).json()
    with assert_num_queries(8):  # search_path, token, roles, card + citizen; savepoint, update, audit, release
        assert admin.delete(f"/api/v1/staff/citizen-id/card-qrs/{card['id']}/").status_code == 200
