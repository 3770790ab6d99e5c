"""Resident sign-up, profile, logout, throttling: through the API against real PostgreSQL/Redis."""
from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.models import ApiToken, User
from tests.base import TenantApiClient, assert_num_queries


def test_signup_returns_a_token_that_works_on_its_own_host_only(saga, kanzaki):
    response = saga.client().post("/api/v1/residents/", {"nickname": "さがっ子", "language": "ja"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("sa_")
    assert body["resident"]["nickname"] == "さがっ子"
    assert body["resident"]["kind"] == "resident"

    me = TenantApiClient(saga.host, body["token"]).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["id"] == body["resident"]["id"]

    elsewhere = TenantApiClient(kanzaki.host, body["token"]).get("/api/v1/me/")
    assert elsewhere.status_code == 401
    assert elsewhere.json()["error"]["code"] == "invalid_token"

    with saga.schema():
        token = ApiToken.objects.get(user_id=body["resident"]["id"])
        assert token.key_hash != body["token"] and body["token"] not in token.key_hash  # stored hashed
    with kanzaki.schema():
        assert not User.objects.filter(nickname="さがっ子").exists()


def test_signup_validates_fields_in_the_common_error_shape(saga):
    response = saga.client().post("/api/v1/residents/", {"birth_year": 1800, "language": "fr",
                                                          "interests": ["has space"]}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) >= {"birth_year", "language"}
    assert error["message"] and error["message_en"]


def test_interest_tags_are_cleaned_and_validated(saga):
    client = saga.client("resident")
    bad = client.patch("/api/v1/me/", {"interests": ["two words"]}, format="json")
    assert bad.status_code == 400
    assert "interests" in bad.json()["error"]["fields"]
    ok = client.patch("/api/v1/me/", {"interests": ["Bousai", "bousai", "子育て"]}, format="json")
    assert ok.status_code == 200
    assert ok.json()["interests"] == ["bousai", "子育て"]


def test_profile_update_sets_district_and_rejects_other_tenants_district(saga, kanzaki):
    from accounts.services import district_create

    with saga.schema():
        saga_district = district_create(name="勧興", kana="かんこう")
    with kanzaki.schema():
        kanzaki_district = district_create(name="脊振", kana="せふり")

    client = saga.client("resident")
    response = client.patch("/api/v1/me/", {"district": saga_district.id, "birth_year": 1980,
                                            "nickname": "花子"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["district"] == {"id": saga_district.id, "name": "勧興", "kana": "かんこう"}

    # An id that only exists in Kanzaki's schema is unknown in Saga's.
    if kanzaki_district.id != saga_district.id:
        foreign = client.patch("/api/v1/me/", {"district": kanzaki_district.id}, format="json")
        assert foreign.status_code == 400
        assert "district" in foreign.json()["error"]["fields"]


def test_future_birth_year_is_refused(saga):
    response = saga.client("resident").patch("/api/v1/me/", {"birth_year": timezone.localdate().year + 1},
                                              format="json")
    assert response.status_code == 400
    assert "birth_year" in response.json()["error"]["fields"]


def test_me_without_token_is_401_with_error_shape(saga):
    response = saga.client().get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_malformed_json_is_400_malformed_json(saga):
    response = saga.client("resident").generic("PATCH", "/api/v1/me/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_logout_revokes_the_token(saga):
    issued = saga.client().post("/api/v1/residents/", {}, format="json").json()
    client = TenantApiClient(saga.host, issued["token"])
    assert client.post("/api/v1/auth/logout/").status_code == 204
    after = client.get("/api/v1/me/")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_token"


def test_expired_token_is_refused(saga):
    issued = saga.client().post("/api/v1/residents/", {}, format="json").json()
    with saga.schema():
        ApiToken.objects.filter(user_id=issued["resident"]["id"]).update(expires_at=timezone.now())
    response = TenantApiClient(saga.host, issued["token"]).get("/api/v1/me/")
    assert response.status_code == 401


def test_deactivated_resident_token_is_refused(saga):
    issued = saga.client().post("/api/v1/residents/", {}, format="json").json()
    with saga.schema():
        User.objects.filter(pk=issued["resident"]["id"]).update(is_active=False)
    assert TenantApiClient(saga.host, issued["token"]).get("/api/v1/me/").status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer \u00e9t\u00e9", "Bearer sa_unknown"])
def test_bad_authorization_headers_are_401(saga, header):
    client = saga.client()
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header.encode("utf-8").decode("latin-1"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_signup_is_rate_limited_per_client_address(saga, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"resident_signup": "3/hour", "staff_token": "60/hour"}}
    client = saga.client()
    statuses = [client.post("/api/v1/residents/", {}, format="json", REMOTE_ADDR="10.0.0.7").status_code
                for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    limited = client.post("/api/v1/residents/", {}, format="json", REMOTE_ADDR="10.0.0.7").json()["error"]
    assert limited["code"] == "rate_limited"
    assert int(limited["fields"]["retry_after_seconds"][0]) > 0
    # Another address is not affected.
    assert client.post("/api/v1/residents/", {}, format="json", REMOTE_ADDR="10.0.0.8").status_code == 201


def test_me_query_count(saga):
    client = saga.client("resident")
    client.get("/api/v1/me/")  # warm the host cache and the last-used stamp
    # SET search_path (django-tenants, once per request) + token/user/district in one join;
    # a resident's roles are never queried.
    with assert_num_queries(2):
        assert client.get("/api/v1/me/").status_code == 200


def test_signup_query_count(saga):
    client = saga.client()
    client.post("/api/v1/residents/", {}, format="json")
    # SET search_path, savepoint, insert user, insert token, release savepoint
    with assert_num_queries(5):
        assert client.post("/api/v1/residents/", {}, format="json").status_code == 201
