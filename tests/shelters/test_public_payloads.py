"""The two public reads of a disaster surge (shelter list, active alerts): served from a pre-rendered
payload, gzipped for clients that ask, answered before most of the middleware, and current within
SHELTERS_PUBLIC_RECHECK_SECONDS in every process (at once in the process that made the change)."""
from __future__ import annotations

import gzip
import json
import time
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache

from shelters import selectors
from shelters.services import public_version_key
from tests.base import TenantApiClient, assert_num_queries
from tests.shelters.test_operations import PERSON, _check_in

PATHS = ["/api/v1/shelters/", "/api/v1/alerts/active/"]


@pytest.mark.parametrize("path", PATHS)
def test_gzip_for_clients_that_accept_it(saga, flood, saga_shelters, path):
    plain = saga.client().get(path)
    zipped = saga.client().get(path, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert zipped.status_code == plain.status_code == 200
    assert zipped["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()
    for response in (plain, zipped):
        assert response["Vary"] == "Accept-Encoding" and int(response["Content-Length"]) == len(response.content)


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_reads_skip_the_session_stack_but_keep_the_security_headers(saga, saga_shelters, path):
    response = saga.client().get(path)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
    assert "Content-Language" not in response and not response.cookies  # locale and session never ran
    # With a token the request takes the whole stack and DRF's authentication, as any API call.
    signed_in = saga.client("resident").get(path)
    assert signed_in.status_code == 200 and signed_in["Content-Language"]
    assert signed_in.json() == response.json()


def test_the_platform_host_does_not_serve_a_municipality_list(saga, saga_shelters):
    response = TenantApiClient(settings.PLATFORM_DOMAIN).get("/api/v1/shelters/")
    assert response.status_code == 404


def test_another_processs_change_is_seen_after_the_recheck_interval(saga, flood, saga_shelters, settings):
    client = saga.client()
    client.get("/api/v1/shelters/")
    with saga.schema():
        cache.set(public_version_key("list"), "changed-elsewhere", timeout=None)  # as another process's commit
    settings.SHELTERS_PUBLIC_RECHECK_SECONDS = 3600
    with assert_num_queries(0):  # within the interval: this process's copy, Redis not asked
        client.get("/api/v1/shelters/")
    settings.SHELTERS_PUBLIC_RECHECK_SECONDS = 0
    # search_path, openings with their counts, shelters: rebuilt for the new version
    with assert_num_queries(3):
        client.get("/api/v1/shelters/")
    with assert_num_queries(0):
        client.get("/api/v1/shelters/")


def test_a_check_in_shows_at_once_in_the_process_that_made_it(saga, flood, saga_shelters, settings,
                                                             django_capture_on_commit_callbacks):
    settings.SHELTERS_PUBLIC_RECHECK_SECONDS = 3600
    public = saga.client()
    row = next(r for r in public.get("/api/v1/shelters/").json() if r["id"] == saga_shelters[0].pk)
    assert row["evacuees"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert _check_in(saga.client("shelter_staff"), saga_shelters[0].pk, {"person": PERSON}).status_code == 201
    row = next(r for r in public.get("/api/v1/shelters/").json() if r["id"] == saga_shelters[0].pk)
    assert row["evacuees"] == 1


def test_copies_do_not_survive_redis_losing_the_version(saga, flood, saga_shelters, settings,
                                                        django_capture_on_commit_callbacks):
    """Versions are random tokens, not counters: a restarted Redis can never re-issue the token of a
    copy some process still holds."""
    settings.SHELTERS_PUBLIC_RECHECK_SECONDS = 0
    client = saga.client()
    client.get("/api/v1/shelters/")
    with saga.schema():
        cache.delete_many([public_version_key("list"), "shelters:public:list"])
    with assert_num_queries(3):
        client.get("/api/v1/shelters/")


def test_check_ins_leave_the_alerts_payload_alone(saga, flood, saga_shelters, settings,
                                                  django_capture_on_commit_callbacks):
    settings.SHELTERS_PUBLIC_RECHECK_SECONDS = 0
    public = saga.client()
    public.get("/api/v1/alerts/active/")
    with django_capture_on_commit_callbacks(execute=True):
        assert _check_in(saga.client("shelter_staff"), saga_shelters[0].pk, {"person": PERSON}).status_code == 201
    with assert_num_queries(0):  # still current: a check-in changes only the shelter list
        public.get("/api/v1/alerts/active/")
    with assert_num_queries(3):  # search_path, openings with their counts, shelters
        public.get("/api/v1/shelters/")


def test_while_another_process_rebuilds_the_previous_copy_is_served_until_the_next_recheck(
        saga, flood, saga_shelters, settings):
    settings.SHELTERS_PUBLIC_RECHECK_SECONDS = 0.5
    client = saga.client()
    before = client.get("/api/v1/shelters/").json()
    with saga.schema():
        cache.set(public_version_key("list"), "changed-elsewhere", timeout=None)
        cache.set("shelters:public:list:lock", 1, timeout=60)  # another process is rebuilding
    time.sleep(0.6)
    with assert_num_queries(0):  # rechecked: the version moved, but the rebuild is someone else's
        assert client.get("/api/v1/shelters/").json() == before
    with mock.patch.object(selectors.cache, "get", wraps=selectors.cache.get) as redis_get:
        assert client.get("/api/v1/shelters/").json() == before
    assert redis_get.call_count == 0  # until the next recheck the previous copy is served from memory
    settings.SHELTERS_PUBLIC_RECHECK_SECONDS = 0
    with saga.schema():
        cache.delete("shelters:public:list:lock")
    with assert_num_queries(3):  # next recheck: rebuilt for the new version
        client.get("/api/v1/shelters/")
