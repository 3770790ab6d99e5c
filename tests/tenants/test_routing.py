"""Host routing, the public directory, error shapes for unknown hosts and URLs."""
from __future__ import annotations

from tests.base import TenantApiClient, assert_num_queries


def test_unknown_host_is_404_json(tenants_pair, db):
    response = TenantApiClient("nowhere.localhost").get("/api/v1/districts/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "unknown_host"


def test_disallowed_host_is_400_json(tenants_pair, db):
    response = TenantApiClient("evil.example.com").get("/healthz")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_host"


def test_unknown_path_and_wrong_method_use_the_error_shape(saga):
    missing = saga.client().get("/api/v1/no-such-thing/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = saga.client("resident").delete("/api/v1/me/")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    healthz = saga.client().post("/healthz")
    assert healthz.status_code == 405 and healthz.json()["error"]["code"] == "method_not_allowed"


def test_platform_host_serves_the_directory_of_active_municipalities(saga, kanzaki):
    response = TenantApiClient("localhost").get("/api/v1/municipalities/")
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()}
    assert rows["412015"]["name"] == "佐賀市"
    assert rows["412015"]["name_en"] == "Saga City"
    assert rows["412015"]["api_base_url"] == "http://saga.localhost/api/v1/"
    assert rows["412104"]["api_base_url"] == "http://kanzaki.localhost/api/v1/"


def test_directory_query_count_is_constant(saga, kanzaki):
    client = TenantApiClient("localhost")
    client.get("/api/v1/municipalities/")
    # search_path, municipalities, prefetch of their domains
    with assert_num_queries(3):
        client.get("/api/v1/municipalities/")


def test_directory_is_not_served_on_a_tenant_host(saga):
    assert saga.client().get("/api/v1/municipalities/").status_code == 404


def test_tenant_routes_are_not_served_on_the_platform_host(saga):
    response = TenantApiClient("localhost").get("/api/v1/me/")
    assert response.status_code == 404


def test_openapi_schema_and_docs_page(saga):
    schema = saga.client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/residents/" in document["paths"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = saga.client().get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn" not in html.lower()  # assets are served locally (drf-spectacular-sidecar)
