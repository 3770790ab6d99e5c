"""Launch and SSO: consent, the signed launch token, verification with the published keys only,
replay detection, key rotation, and the refusals (unknown, disabled, suspended)."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from accounts.services import district_create, resident_create
from miniapps import attributes, services, sso
from miniapps.catalog.models import ExternalMiniApp
from miniapps.models import MiniAppGrant, SigningKey
from miniapps.sso_verify import LaunchTokenVerifier, ReplayedTokenError
from tests.base import TenantApiClient, assert_num_queries

from .helpers import add_to_catalog, error_of, external_app, set_enabled

ISSUER = "http://saga.localhost/api/v1/"


@pytest.fixture
def walk(saga):
    """A published external mini-app asking for every attribute, enabled in Saga."""
    external_app(saga, "saga-walk")
    add_to_catalog(saga, "saga-walk")
    return "saga-walk"


@pytest.fixture
def hanako(saga):
    """A resident with every attribute filled in."""
    with saga.schema():
        district = district_create(name="勧興", kana="かんこう")
        issued = resident_create(nickname="花子", district=district, birth_year=timezone.localdate().year - 34)
    return TenantApiClient(saga.host, issued.raw), issued.token.user


def _launch(client, miniapp_id, body=None):
    return client.post(f"/api/v1/miniapps/{miniapp_id}/launch/", body or {}, format="json")


def _jwks(tenant) -> dict:
    response = tenant.client().get("/api/v1/miniapps/keys/")
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "public, max-age=300"
    return response.json()


def test_first_launch_asks_for_consent_then_the_token_carries_only_what_was_agreed(saga, walk, hanako):
    client, user = hanako
    first = _launch(client, walk)
    assert first.status_code == 409
    error = error_of(first)
    assert error["code"] == "consent_required"
    assert "nickname, district, age_band, verified_resident" in error["fields"]["consent"][0]

    state = client.get(f"/api/v1/miniapps/{walk}/consent/").json()
    assert state == {"miniapp": walk, "requested_attributes": ["nickname", "district", "age_band", "verified_resident"],
                     "attributes": [], "consented_at": None, "consent_required": True}

    response = _launch(client, walk, {"consent": ["age_band", "nickname"]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "external" and body["shared_attributes"] == ["nickname", "age_band"]
    assert body["launch_url"] == "https://saga-walk.example.com/launch"
    assert parse_qs(urlsplit(body["url"]).query) == {"launch_token": [body["token"]]}
    assert body["jwks_uri"] == ISSUER + "miniapps/keys/"
    assert 290 <= body["expires_in"] <= 300

    verifier = LaunchTokenVerifier(issuer=ISSUER, audience=walk)
    claims = verifier.verify_with_jwks(body["token"], _jwks(saga))
    band = attributes.age_band_label(attributes.age_band_lower(user.birth_year))
    assert band == "30-39"
    assert claims["nickname"] == "花子" and claims["age_band"] == band
    assert "district" not in claims and "verified_resident" not in claims  # not consented
    assert claims["aud"] == walk and claims["iss"] == ISSUER and claims["municipality"] == "412015"
    assert claims["exp"] - claims["iat"] == 300
    with saga.schema():  # a pairwise id (random, per resident and mini-app), not the database id
        assert claims["sub"] == MiniAppGrant.objects.get(user=user, miniapp_id=walk).subject.hex

    # Consent is remembered: the next launch needs no body and shares the same attributes.
    again = _launch(client, walk)
    assert again.status_code == 200
    claims_again = LaunchTokenVerifier(issuer=ISSUER, audience=walk).verify_with_jwks(again.json()["token"],
                                                                                    _jwks(saga))
    assert claims_again["sub"] == claims["sub"] and claims_again["jti"] != claims["jti"]
    with saga.schema():
        assert AuditEvent.objects.filter(action="miniapp.consent_granted", actor=user).count() == 1
        launched = AuditEvent.objects.filter(action="miniapp.launched", actor=user).order_by("id")
        assert [event.data["jti"] for event in launched] == [claims["jti"], claims_again["jti"]]
        assert launched[0].data["attributes"] == ["nickname", "age_band"]


def test_every_attribute_when_consented_and_the_verified_flag_comes_from_the_registered_check(saga, walk, hanako):
    client, user = hanako
    check = lambda resident: resident.pk == user.pk  # noqa: E731
    attributes.register_verified_resident_check(check)
    try:
        body = _launch(client, walk, {"consent": ["nickname", "district", "age_band", "verified_resident"]}).json()
    finally:
        attributes.unregister_verified_resident_check(check)
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["district"] == {"id": user.district_id, "name": "勧興"}
    assert claims["verified_resident"] is True


def test_declining_everything_still_launches_with_only_the_pairwise_subject(saga, walk, hanako):
    client, _user = hanako
    body = _launch(client, walk, {"consent": []}).json()
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert set(claims) == {"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "municipality"}
    assert body["shared_attributes"] == []


def test_consent_for_attributes_not_requested_is_refused(saga, hanako):
    external_app(saga, "saga-quiet", requested_attributes=["nickname"])
    add_to_catalog(saga, "saga-quiet")
    client, _user = hanako
    response = _launch(client, "saga-quiet", {"consent": ["nickname", "district"]})
    assert response.status_code == 400
    assert "district" in error_of(response)["fields"]["consent"][0]
    bad_name = _launch(client, "saga-quiet", {"consent": ["password"]})
    assert bad_name.status_code == 400 and list(error_of(bad_name)["fields"]) == ["consent.0"]


def test_withdrawn_consent_is_asked_again_and_shares_nothing_meanwhile(saga, walk, hanako):
    client, user = hanako
    _launch(client, walk, {"consent": ["nickname"]})
    response = client.delete(f"/api/v1/miniapps/{walk}/consent/")
    assert response.status_code == 204
    assert client.get(f"/api/v1/miniapps/{walk}/consent/").json()["consent_required"] is True
    assert error_of(_launch(client, walk))["code"] == "consent_required"
    # Withdrawing twice is fine (nothing left to withdraw).
    assert client.delete(f"/api/v1/miniapps/{walk}/consent/").status_code == 204
    with saga.schema():
        grant = MiniAppGrant.objects.get(user=user, miniapp_id=walk)
        assert grant.attributes == [] and grant.withdrawn_at is not None
        assert AuditEvent.objects.filter(action="miniapp.consent_withdrawn", actor=user).count() == 1


def test_asking_for_more_attributes_later_asks_the_resident_again(saga, walk, hanako):
    client, _user = hanako
    with saga.schema():
        services.external_miniapp_update(app=ExternalMiniApp.objects.get(slug=walk), acting_user=saga.admin,
                                         requested_attributes=["nickname"])
    assert _launch(client, walk, {"consent": ["nickname"]}).status_code == 200
    assert _launch(client, walk).status_code == 200
    with saga.schema():
        services.external_miniapp_update(app=ExternalMiniApp.objects.get(slug=walk), acting_user=saga.admin,
                                         requested_attributes=["nickname", "district"])
    assert error_of(_launch(client, walk))["code"] == "consent_required"
    # Asking for less needs no new consent, and the dropped attribute is no longer shared.
    with saga.schema():
        services.external_miniapp_update(app=ExternalMiniApp.objects.get(slug=walk), acting_user=saga.admin,
                                         requested_attributes=[])
    body = _launch(client, walk).json()
    assert body["shared_attributes"] == []
    assert "nickname" not in jwt.decode(body["token"], options={"verify_signature": False})


def test_a_replayed_token_is_detected_through_its_jti(saga, walk, hanako):
    client, _user = hanako
    token = _launch(client, walk, {"consent": []}).json()["token"]
    verifier = LaunchTokenVerifier(issuer=ISSUER, audience=walk)
    jwks = _jwks(saga)
    verifier.verify_with_jwks(token, jwks)
    with pytest.raises(ReplayedTokenError):
        verifier.verify_with_jwks(token, jwks)


def test_a_token_fails_for_another_audience_and_after_it_expires(saga, walk, hanako):
    client, _user = hanako
    token = _launch(client, walk, {"consent": []}).json()["token"]
    jwks = _jwks(saga)
    with pytest.raises(jwt.InvalidAudienceError):
        LaunchTokenVerifier(issuer=ISSUER, audience="another-app").verify_with_jwks(token, jwks)
    with pytest.raises(jwt.InvalidIssuerError):
        LaunchTokenVerifier(issuer="http://kanzaki.localhost/api/v1/", audience=walk).verify_with_jwks(token, jwks)
    with saga.schema():
        old = sso.launch_token_issue(issuer=ISSUER, audience=walk, subject="s", municipality_code="412015",
                                     attributes={}, now=timezone.now() - timedelta(minutes=6))
    with pytest.raises(jwt.ExpiredSignatureError):
        LaunchTokenVerifier(issuer=ISSUER, audience=walk).verify_with_jwks(old.token, jwks)


def test_a_saga_token_fails_verification_with_kanzakis_keys(saga, kanzaki, hanako):
    external_app(saga, "shared-walk", requested_attributes=[])
    add_to_catalog(saga, "shared-walk")
    add_to_catalog(kanzaki, "shared-walk")
    client, _user = hanako
    token = _launch(client, "shared-walk").json()["token"]
    saga_keys, kanzaki_keys = _jwks(saga), _jwks(kanzaki)
    assert {key["kid"] for key in saga_keys["keys"]}.isdisjoint({key["kid"] for key in kanzaki_keys["keys"]})
    verifier = LaunchTokenVerifier(issuer=ISSUER, audience="shared-walk")
    with pytest.raises(jwt.InvalidTokenError):
        verifier.verify_with_jwks(token, kanzaki_keys)  # no such kid
    # Even forcing Kanzaki's key onto the token's kid, the signature does not verify.
    kanzaki_key = jwt.PyJWKSet.from_dict(kanzaki_keys).keys[0].key
    with pytest.raises(jwt.InvalidSignatureError):
        verifier.verify(token, kanzaki_key)
    assert verifier.verify_with_jwks(token, saga_keys)["aud"] == "shared-walk"


def test_tokens_signed_before_a_rotation_still_verify(saga, walk, hanako):
    client, _user = hanako
    before = _launch(client, walk, {"consent": []}).json()["token"]
    with saga.schema():
        old_kid = sso.signing_key_current().kid
        new_kid = sso.signing_key_rotate().kid
    after = _launch(client, walk).json()["token"]
    assert jwt.get_unverified_header(before)["kid"] == old_kid
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    jwks = _jwks(saga)
    assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_kid]
    verifier = LaunchTokenVerifier(issuer=ISSUER, audience=walk)
    verifier.verify_with_jwks(before, jwks)
    verifier.verify_with_jwks(after, jwks)
    # Past the grace period the old key is purged and no longer published.
    with saga.schema():
        assert sso.signing_keys_purge_retired(now=timezone.now() + timedelta(days=3)) == 1
    assert [key["kid"] for key in _jwks(saga)["keys"]] == [new_kid]


def test_periodic_maintenance_rotates_old_keys(saga):
    with saga.schema():
        key = sso.signing_key_current()
        assert sso.signing_keys_maintain() == {"rotated": False, "purged": 0}
        SigningKey.objects.filter(pk=key.pk).update(created_at=timezone.now() - timedelta(days=91))
        assert sso.signing_keys_maintain()["rotated"] is True
        assert sso.signing_key_current().kid != key.kid


def test_private_keys_are_stored_encrypted(saga):
    with saga.schema():
        key = sso.signing_key_current()
    assert key.private_key_pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert set(key.public_jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
    assert key.public_jwk["alg"] == "ES256" and key.kid == sso.jwk_thumbprint(key.public_jwk)


def test_an_unreadable_key_is_replaced_not_a_500(saga, walk, hanako, settings):
    client, _user = hanako
    with saga.schema():
        old = sso.signing_key_current()
    sso._key_cache.clear()
    settings.MINIAPPS_SIGNING_KEY_PASSPHRASE = "a-different-passphrase"
    response = _launch(client, walk, {"consent": []})
    assert response.status_code == 200
    assert jwt.get_unverified_header(response.json()["token"])["kid"] != old.kid
    LaunchTokenVerifier(issuer=ISSUER, audience=walk).verify_with_jwks(response.json()["token"], _jwks(saga))


def test_builtin_miniapps_launch_without_a_token(saga):
    response = _launch(saga.client("resident"), "announcements")
    assert response.status_code == 200
    assert response.json() == {"miniapp": "announcements", "kind": "builtin", "api_url": "/api/v1/announcements/",
                               "launch_url": None, "url": None, "token": None, "expires_at": None,
                               "expires_in": None, "shared_attributes": [], "jwks_uri": None}


def test_unknown_disabled_and_suspended_miniapps(saga, walk, kanzaki):
    client = saga.client("resident")
    missing = _launch(client, "no-such-app")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    # Published on the platform but not in Saga's catalog: unknown here.
    external_app(kanzaki, "kanzaki-festival")
    assert _launch(client, "kanzaki-festival").status_code == 404
    set_enabled(saga, "garbage", False)
    disabled = _launch(client, "garbage")
    assert disabled.status_code == 409 and error_of(disabled)["code"] == "miniapp_disabled"
    set_enabled(saga, walk, False)
    assert error_of(_launch(client, walk, {"consent": []}))["code"] == "miniapp_disabled"
    set_enabled(saga, walk, True)
    with saga.schema():
        services.external_miniapp_set_status(app=ExternalMiniApp.objects.get(slug=walk), status="suspended",
                                             acting_user=saga.admin)
    suspended = _launch(client, walk, {"consent": []})
    assert suspended.status_code == 409 and error_of(suspended)["code"] == "miniapp_disabled"
    assert client.get("/api/v1/miniapps/no-such-app/consent/").status_code == 404
    assert client.delete("/api/v1/miniapps/no-such-app/consent/").status_code == 404


@pytest.mark.parametrize("who", ["admin", Role.SHELTER_STAFF, None])
def test_only_residents_launch(saga, walk, who):
    response = _launch(saga.client(who), walk, {"consent": []})
    assert response.status_code == (401 if who is None else 403)
    assert saga.client(who).delete(f"/api/v1/miniapps/{walk}/consent/").status_code in (401, 403)


def test_jwks_is_public_and_per_municipality(saga, kanzaki):
    saga_keys = _jwks(saga)
    assert len(saga_keys["keys"]) == 1 and saga_keys["keys"][0]["kty"] == "EC"
    assert saga_keys != _jwks(kanzaki)


def test_launch_query_counts(saga, walk, hanako):
    client, _user = hanako
    _launch(client, walk, {"consent": ["nickname"]})
    # search_path, token, municipality domains (issuer), savepoint, catalog item, grant for update,
    # current key, audit insert, release
    with assert_num_queries(9):
        assert _launch(client, walk).status_code == 200
    # search_path, token, domains, savepoint, catalog item, release
    with assert_num_queries(6):
        assert _launch(client, "announcements").status_code == 200


def test_consent_and_jwks_query_counts(saga, walk, hanako):
    client, _user = hanako
    _launch(client, walk, {"consent": ["nickname"]})
    with assert_num_queries(4):  # search_path, token, catalog item, grant
        client.get(f"/api/v1/miniapps/{walk}/consent/")
    with assert_num_queries(7):  # search_path, token, savepoint, grant for update, update, audit, release
        assert client.delete(f"/api/v1/miniapps/{walk}/consent/").status_code == 204
    anonymous = saga.client()
    anonymous.get("/api/v1/miniapps/keys/")
    with assert_num_queries(3):  # search_path, current key, published keys
        anonymous.get("/api/v1/miniapps/keys/")


def test_verified_resident_means_an_active_digital_citizen_id(saga, walk, hanako):
    from citizen_id.models import CitizenId

    client, user = hanako
    consent = {"consent": ["verified_resident"]}

    def verified() -> bool:
        token = _launch(client, walk, consent).json()["token"]
        return jwt.decode(token, options={"verify_signature": False})["verified_resident"]

    assert verified() is False
    with saga.schema():
        citizen = CitizenId.objects.create(reference="TESTREF000000001", user=user, verified_at=timezone.now())
    assert verified() is True
    with saga.schema():
        CitizenId.objects.filter(pk=citizen.pk).update(status=CitizenId.Status.SUSPENDED)
    assert verified() is False
