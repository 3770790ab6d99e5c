"""Events: join/decline until the deadline, capacity and the waiting list with promotion and its push,
the organiser's list and CSV export, and the rules around them."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from miniapps.community.models import Event, Rsvp
from miniapps.community.tasks import notify_promoted
from tests.base import assert_num_queries

from .conftest import community_notifications


def rsvp(member, event_id: int, answer: str):
    return member.client().post(f"/api/v1/community/events/{event_id}/rsvp/", {"answer": answer}, format="json")


def test_done_when_join_waiting_list_and_promotion(board):
    """Issue 9 'Done when': one posts an event, another joins, a third goes on the waiting list and
    is promoted (and notified) when someone declines."""
    organiser, neighbour, third = board.member("主催者"), board.member("お隣さん"), board.member("三人目")
    event = board.event(organiser, capacity=1)
    assert event["event"]["capacity"] == 1 and event["event"]["is_open"] is True
    event_id = event["event"]["id"]
    assert event_id == event["id"]

    joined = rsvp(neighbour, event_id, "join")
    assert joined.status_code == 200, joined.content
    assert joined.json()["event"]["my_rsvp"]["status"] == "going"
    assert joined.json()["event"]["joined_count"] == 1

    waiting = rsvp(third, event_id, "join").json()["event"]
    assert waiting["my_rsvp"] == {**waiting["my_rsvp"], "answer": "join", "status": "waiting", "waiting_position": 1}
    assert waiting["joined_count"] == 1 and waiting["waiting_count"] == 1

    declined = rsvp(neighbour, event_id, "decline").json()
    assert declined["event"]["my_rsvp"]["status"] == "declined" and declined["promoted_count"] == 1
    with board.tenant.schema():
        promoted = Rsvp.objects.get(event_id=event_id, user=third.user)
        assert promoted.status == Rsvp.Status.GOING and promoted.promoted_at is not None
        assert Event.objects.get(pk=event_id).joined_count == 1
        # The promotion push (sent on commit by the task) goes to the promoted resident only.
        assert notify_promoted(promoted.id) == 1
        assert notify_promoted(promoted.id) == 0  # idempotent: a redelivered task sends nothing
    [notification] = community_notifications(board.tenant)
    assert notification.audience == {"user_ids": [third.id]} and notification.topic == "events"
    assert "参加が確定" in notification.title and notification.deep_link == f"/community/events/{event_id}"
    with board.tenant.schema():
        from notifications import pipeline

        pipeline.dispatch(notification.id)  # what the dispatch task does: inbox rows for the audience
    inbox = third.client().get("/api/v1/inbox/").json()
    assert [item["title"] for item in inbox["results"]] == [notification.title]
    me = third.client().get(f"/api/v1/community/events/{event_id}/").json()
    assert me["my_rsvp"]["status"] == "going" and me["my_rsvp"]["waiting_position"] is None


def test_promotion_is_scheduled_on_commit(board, django_capture_on_commit_callbacks):
    organiser, a, b = board.member(), board.member(), board.member()
    event_id = board.event(organiser, capacity=1)["id"]
    rsvp(a, event_id, "join")
    rsvp(b, event_id, "join")
    with django_capture_on_commit_callbacks() as callbacks:
        rsvp(a, event_id, "decline")
    assert len(callbacks) == 1  # one notify_promoted task for b


def test_answers_are_idempotent_and_changeable(board):
    organiser, a = board.member(), board.member()
    event_id = board.event(organiser, capacity=3)["id"]
    for answer, status, joined in [("join", "going", 1), ("join", "going", 1), ("decline", "declined", 0),
                                   ("decline", "declined", 0), ("join", "going", 1)]:
        body = rsvp(a, event_id, answer).json()["event"]
        assert (body["my_rsvp"]["status"], body["joined_count"]) == (status, joined), answer


def test_waiting_list_is_first_come_first_promoted(board):
    organiser = board.member()
    going = [board.member(f"参加{i}") for i in range(2)]
    queue = [board.member(f"待ち{i}") for i in range(3)]
    event_id = board.event(organiser, capacity=2)["id"]
    for member in going + queue:
        rsvp(member, event_id, "join")
    positions = [rsvp(m, event_id, "join").json()["event"]["my_rsvp"]["waiting_position"] for m in queue]
    assert positions == [1, 2, 3]
    rsvp(queue[0], event_id, "decline")  # leaving the queue promotes nobody
    assert rsvp(queue[1], event_id, "join").json()["event"]["my_rsvp"]["waiting_position"] == 1
    rsvp(going[0], event_id, "decline")
    with board.tenant.schema():
        statuses = dict(Rsvp.objects.filter(event_id=event_id).values_list("user_id", "status"))
    assert statuses[queue[1].id] == "going" and statuses[queue[2].id] == "waiting"


def test_larger_capacity_promotes_smaller_than_joined_is_refused(board):
    organiser, a, b, c = board.member(), board.member(), board.member(), board.member()
    event_id = board.event(organiser, capacity=1)["id"]
    for member in (a, b, c):
        rsvp(member, event_id, "join")
    url = f"/api/v1/community/events/{event_id}/"
    assert a.client().patch(url, {"capacity": 5}, format="json").status_code == 403
    grown = organiser.client().patch(url, {"capacity": 2}, format="json")
    assert grown.status_code == 200 and grown.json()["joined_count"] == 2 and grown.json()["waiting_count"] == 1
    shrink = organiser.client().patch(url, {"capacity": 1}, format="json")
    assert shrink.status_code == 400 and shrink.json()["error"]["code"] == "capacity_below_joined"
    unlimited = organiser.client().patch(url, {"capacity": None}, format="json").json()
    assert unlimited["joined_count"] == 3 and unlimited["waiting_count"] == 0


def test_answers_close_at_the_deadline(board):
    organiser, a = board.member(), board.member()
    event_id = board.event(organiser, capacity=None)["id"]
    assert rsvp(a, event_id, "join").status_code == 200
    with board.tenant.schema():
        Event.objects.filter(pk=event_id).update(rsvp_deadline=timezone.now() - timedelta(minutes=1))
    late = rsvp(a, event_id, "decline")
    assert late.status_code == 409 and late.json()["error"]["code"] == "rsvp_closed"
    assert a.client().get(f"/api/v1/community/events/{event_id}/").json()["is_open"] is False


@pytest.mark.parametrize("event, field", [
    ({"starts_at": "2000-01-01T10:00:00+09:00", "place": "x"}, "event.starts_at"),
    ({"starts_at": "2099-01-01T10:00:00+09:00", "place": "x", "ends_at": "2099-01-01T09:00:00+09:00"}, "event.ends_at"),
    ({"starts_at": "2099-01-01T10:00:00+09:00", "place": "x", "rsvp_deadline": "2099-01-02T10:00:00+09:00"},
     "event.rsvp_deadline"),
    ({"starts_at": "2099-01-01T10:00:00+09:00", "place": "x", "capacity": 0}, "event.capacity"),
    ({"starts_at": "not a date", "place": "x"}, "event.starts_at"),
])
def test_bad_event_times_are_400(board, event, field):
    response = board.member().client().post(f"/api/v1/community/districts/{board.district.id}/posts/",
                                            {"title": "x", "category": "event", "event": event}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


def test_rsvp_bad_answer_and_non_event_and_outsider(board):
    organiser, outsider = board.member(), board.member(district=board.other_district)
    event_id = board.event(organiser)["id"]
    plain = board.post(organiser)["id"]
    bad = rsvp(organiser, event_id, "maybe")
    assert bad.status_code == 400 and "answer" in bad.json()["error"]["fields"]
    assert rsvp(organiser, plain, "join").status_code == 404
    assert rsvp(outsider, event_id, "join").status_code == 404
    assert rsvp(outsider, 10**12, "join").status_code == 404


def test_organiser_sees_the_list_and_exports_csv(board, saga):
    organiser, a, b, c = board.member("主催"), board.member("=HYPERLINK(\"x\")"), board.member("びー"), board.member("しー")
    event_id = board.event(organiser, capacity=1)["id"]
    rsvp(a, event_id, "join")
    rsvp(b, event_id, "join")
    rsvp(c, event_id, "decline")
    listing = organiser.client().get(f"/api/v1/community/events/{event_id}/attendees/")
    assert listing.status_code == 200
    body = listing.json()
    assert [r["nickname"] for r in body["going"]] == ['=HYPERLINK("x")']
    assert [(r["nickname"], r["position"]) for r in body["waiting"]] == [("びー", 1)]
    assert [r["nickname"] for r in body["declined"]] == ["しー"]
    assert a.client().get(f"/api/v1/community/events/{event_id}/attendees/").status_code == 403
    assert saga.client("community_moderator").get(f"/api/v1/community/events/{event_id}/attendees/").status_code == 200
    assert saga.client("teacher").get(f"/api/v1/community/events/{event_id}/attendees/").status_code == 404

    export = organiser.client().get(f"/api/v1/community/events/{event_id}/attendees/export/", HTTP_ACCEPT="text/csv")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert export["Content-Disposition"].startswith("attachment;")
    text = export.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][2].startswith("ニックネーム")
    assert rows[1][2] == "'=HYPERLINK(\"x\")"  # a formula is neutralised for spreadsheets
    assert [row[0].split(" / ")[0] for row in rows[1:]] == ["参加確定", "キャンセル待ち", "不参加"]
    denied = a.client().get(f"/api/v1/community/events/{event_id}/attendees/export/", HTTP_ACCEPT="text/csv")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    with board.tenant.schema():
        assert AuditEvent.objects.filter(action="community.attendees_exported", actor=organiser.user).count() == 1


@pytest.mark.parametrize("count", [2, 8])
def test_attendee_list_query_count_is_constant(board, count):
    organiser = board.member()
    event_id = board.event(organiser, capacity=3)["id"]
    for index in range(count):
        rsvp(board.member(), event_id, "join" if index % 4 else "decline")
    client = organiser.client()
    client.get("/api/v1/me/")
    # SET search_path, token, event (+post, author), RSVPs (+users).
    with assert_num_queries(4):
        response = client.get(f"/api/v1/community/events/{event_id}/attendees/")
    body = response.json()
    assert len(body["going"]) + len(body["waiting"]) + len(body["declined"]) == count


def test_rsvp_query_count(board):
    organiser, a = board.member(), board.member()
    event_id = board.event(organiser, capacity=3)["id"]
    client = a.client()
    client.get("/api/v1/me/")
    # search_path, token, event; the service's transaction (a savepoint inside the test's): verified
    # citizen ID, lock the event, my RSVP, insert it, update the counters. Going needs no waiting
    # position; RSVPs need no suspension lookup.
    with assert_num_queries(10):
        response = client.post(f"/api/v1/community/events/{event_id}/rsvp/", {"answer": "join"}, format="json")
    assert response.status_code == 200
