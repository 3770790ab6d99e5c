"""Concurrency, proven with real threads on separate database connections through the API (no test
transaction: each request commits, as in production): concurrent joins never exceed capacity, and a
double-tapped 「ありがとう」 credits once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from accounts.models import District, User
from accounts.services import district_create, resident_create
from miniapps.community.models import Event, PointsEntry, Post, Rsvp, Thanks
from miniapps.community.selectors import points_ledger_sum
from citizen_id.jpki.models import JpkiCrl
from tests.base import TenantApiClient

from .conftest import enroll_citizen_id, trust_test_ca

THREADS = 16


@pytest.fixture
def committed(tenants_pair, django_db_blocker, community_jpki_ca, settings):
    """A district and verified residents committed in Saga's schema; removed afterwards."""
    saga = tenants_pair[0]
    made: dict = {}
    with django_db_blocker.unblock():
        crls_before = set(JpkiCrl.objects.values_list("pk", flat=True))
        trust_test_ca(settings, community_jpki_ca)
        with saga.schema():
            district = district_create(name="並行校区")
            members = []
            for index in range(THREADS + 1):
                issued = resident_create(nickname=f"並行{index}", district=district)
                members.append((issued.token.user, issued.raw))
        for index, (_, token) in enumerate(members):
            enroll_citizen_id(saga, community_jpki_ca, token, f"並行{index}")
        made.update(saga=saga, district=district, members=members)
        yield made
        with saga.schema():
            Post.objects.filter(district=district).delete()
            User.objects.filter(pk__in=[user.pk for user, _ in members]).delete()
            District.objects.filter(pk=district.pk).delete()
        connection.set_schema_to_public()
        JpkiCrl.objects.exclude(pk__in=crls_before).delete()


def _run_at_once(calls):
    """Runs the callables in threads released together by a barrier; each thread has its own DB
    connection (Django connections are per thread) and closes it when done."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_concurrent_joins_never_exceed_capacity(committed):
    saga, members = committed["saga"], committed["members"]
    organiser_token = members[0][1]
    created = TenantApiClient(saga.host, organiser_token).post(
        f"/api/v1/community/districts/{committed['district'].pk}/posts/",
        {"title": "先着5名", "category": "event",
         "event": {"starts_at": "2099-05-01T10:00:00+09:00", "place": "公民館", "capacity": 5}}, format="json")
    assert created.status_code == 201, created.content
    event_id = created.json()["id"]

    def join(token):
        return lambda: TenantApiClient(saga.host, token).post(
            f"/api/v1/community/events/{event_id}/rsvp/", {"answer": "join"}, format="json")

    responses = _run_at_once([join(token) for _, token in members[1:]])
    assert all(r.status_code == 200 for r in responses), [r.content for r in responses if r.status_code != 200]
    statuses = [r.json()["event"]["my_rsvp"]["status"] for r in responses]
    assert statuses.count("going") == 5 and statuses.count("waiting") == THREADS - 5
    positions = sorted(r.json()["event"]["my_rsvp"]["waiting_position"] for r in responses
                       if r.json()["event"]["my_rsvp"]["status"] == "waiting")
    assert positions == list(range(1, THREADS - 5 + 1))
    with saga.schema():
        event = Event.objects.get(pk=event_id)
        assert (event.joined_count, event.waiting_count) == (5, THREADS - 5)
        assert Rsvp.objects.filter(event_id=event_id, status=Rsvp.Status.GOING).count() == 5
        assert Rsvp.objects.filter(event_id=event_id).count() == THREADS

    # Concurrent declines by everyone going: each frees a place that exactly one waiting person takes.
    going_tokens = [token for (user, token), status in zip(members[1:], statuses) if status == "going"]
    declines = _run_at_once([
        (lambda token=token: TenantApiClient(saga.host, token).post(
            f"/api/v1/community/events/{event_id}/rsvp/", {"answer": "decline"}, format="json"))
        for token in going_tokens])
    assert all(r.status_code == 200 for r in declines)
    assert sum(r.json()["promoted_count"] for r in declines) == 5
    with saga.schema():
        event = Event.objects.get(pk=event_id)
        assert (event.joined_count, event.waiting_count) == (5, THREADS - 10)
        assert Rsvp.objects.filter(event_id=event_id, status=Rsvp.Status.GOING).count() == 5


def test_double_tapped_thanks_credits_once(committed):
    saga, members = committed["saga"], committed["members"]
    author_user, author_token = members[0]
    giver_token = members[1][1]
    post = TenantApiClient(saga.host, author_token).post(
        f"/api/v1/community/districts/{committed['district'].pk}/posts/",
        {"title": "落とし物を届けました", "category": "other"}, format="json").json()

    def thank():
        return TenantApiClient(saga.host, giver_token).post(f"/api/v1/community/posts/{post['id']}/thanks/")

    responses = _run_at_once([thank for _ in range(8)])
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7, codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"already_thanked"}
    with saga.schema():
        assert Thanks.objects.filter(post_id=post["id"]).count() == 1
        assert PointsEntry.objects.filter(user=author_user).count() == 1
        assert points_ledger_sum(user_id=author_user.pk) == 1


def test_control_the_same_joins_one_after_another(board):
    """The sequential control for the threaded test above (same capacity, same number of joins).
    It also makes pytest-django create the test database when this module runs alone: the threaded
    tests commit for real and so do not request the `db` fixture themselves."""
    organiser = board.member()
    event_id = board.event(organiser, capacity=5)["id"]
    statuses = [board.member().client().post(f"/api/v1/community/events/{event_id}/rsvp/", {"answer": "join"},
                                             format="json").json()["event"]["my_rsvp"]["status"]
                for _ in range(THREADS)]
    assert statuses == ["going"] * 5 + ["waiting"] * (THREADS - 5)
