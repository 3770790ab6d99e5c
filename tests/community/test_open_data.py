"""Events marked for open data (オープンデータ): the organiser sets the flag when creating or editing the
event, a community moderator sets or unsets it in the console; nobody else can; bad values are 400;
every change is audited. What the flag publishes is tested in tests/analytics/test_opendata.py."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from miniapps.community.models import Event
from tests.base import assert_num_queries

from .test_moderation import console


def _event_body(**extra) -> dict:
    return {"starts_at": (timezone.now() + timedelta(days=7)).isoformat(), "place": "公民館", **extra}


def _create(member, district_id: int, **event_extra):
    return member.client().post(f"/api/v1/community/districts/{district_id}/posts/",
                                {"title": "清掃活動", "category": "event", "event": _event_body(**event_extra)},
                                format="json")


def _flag(tenant, event_id: int) -> tuple[bool, object]:
    with tenant.schema():
        event = Event.objects.get(pk=event_id)
        return event.open_data, event.open_data_since


def _audits(tenant, event_id: int) -> list[tuple]:
    with tenant.schema():
        return [(a.actor_id, a.data["open_data"], a.data["by"]) for a in
                AuditEvent.objects.filter(action="community.event_open_data_set", target_id=str(event_id)).order_by("id")]


def test_events_are_not_open_data_unless_the_organiser_says_so(board):
    organiser = board.member()
    event = board.event(organiser)
    assert event["event"]["open_data"] is False
    assert _flag(board.tenant, event["id"]) == (False, None)
    detail = organiser.client().get(f"/api/v1/community/events/{event['id']}/").json()
    assert detail["open_data"] is False


def test_the_organiser_marks_an_event_on_creation_and_changes_it_later(board):
    organiser = board.member("主催者")
    created = _create(organiser, board.district.id, open_data=True)
    assert created.status_code == 201, created.content
    event_id = created.json()["id"]
    assert created.json()["event"]["open_data"] is True
    open_data, since = _flag(board.tenant, event_id)
    assert open_data is True and since is not None

    url = f"/api/v1/community/events/{event_id}/"
    off = organiser.client().patch(url, {"open_data": False}, format="json")
    assert off.status_code == 200 and off.json()["open_data"] is False
    assert _flag(board.tenant, event_id) == (False, None)
    again = organiser.client().patch(url, {"open_data": False}, format="json")  # unchanged: no audit row
    assert again.status_code == 200
    on = organiser.client().patch(url, {"open_data": True, "place": "公園"}, format="json")
    assert on.json()["open_data"] is True and on.json()["place"] == "公園"
    assert _flag(board.tenant, event_id)[1] > since  # listed from the latest marking
    by = organiser.id
    assert _audits(board.tenant, event_id) == [(by, True, "organiser"), (by, False, "organiser"),
                                               (by, True, "organiser")]
    feed = organiser.client().get(f"/api/v1/community/districts/{board.district.id}/posts/").json()
    assert feed["results"][0]["event"]["open_data"] is True


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, None, [], {"x": 1}])
def test_the_flag_takes_true_or_false_only(board, value):
    organiser = board.member()
    refused = _create(organiser, board.district.id, open_data=value)
    assert refused.status_code == 400, refused.content
    assert "event.open_data" in refused.json()["error"]["fields"]
    event_id = board.event(organiser)["id"]
    patched = organiser.client().patch(f"/api/v1/community/events/{event_id}/", {"open_data": value}, format="json")
    assert patched.status_code == 400 and "open_data" in patched.json()["error"]["fields"]
    assert _flag(board.tenant, event_id) == (False, None)


def test_only_the_organiser_sets_the_flag_through_the_api(board, saga):
    organiser, neighbour = board.member(), board.member()
    outsider = board.member(district=board.other_district)
    event_id = board.event(organiser)["id"]
    url = f"/api/v1/community/events/{event_id}/"
    denied = neighbour.client().patch(url, {"open_data": True}, format="json")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    # Moderators publish in the console (audited there), not by editing a resident's event.
    assert saga.client(Role.COMMUNITY_MODERATOR).patch(url, {"open_data": True}, format="json").status_code == 403
    assert outsider.client().patch(url, {"open_data": True}, format="json").status_code == 404
    assert saga.client(None).patch(url, {"open_data": True}, format="json").status_code == 401
    assert _flag(board.tenant, event_id) == (False, None) and _audits(board.tenant, event_id) == []


def test_a_hidden_or_withdrawn_event_cannot_be_edited_into_the_open_data(board, saga):
    organiser = board.member()
    hidden_id, withdrawn_id = board.event(organiser)["id"], board.event(organiser)["id"]
    saga.client(Role.COMMUNITY_MODERATOR).post(f"/api/v1/staff/community/posts/{hidden_id}/hide/", {}, format="json")
    organiser.client().delete(f"/api/v1/community/posts/{withdrawn_id}/")
    for event_id in (hidden_id, withdrawn_id):
        response = organiser.client().patch(f"/api/v1/community/events/{event_id}/", {"open_data": True}, format="json")
        assert response.status_code == 404
        assert _flag(board.tenant, event_id) == (False, None)


# --- Console ----------------------------------------------------------------------------------------
def test_a_moderator_publishes_and_withdraws_an_event_in_the_console(board, saga):
    organiser = board.member("<b>主催</b>")
    event_id = board.event(organiser)["id"]
    plain_id = board.post(organiser)["id"]
    client = console(saga, saga.staff[Role.COMMUNITY_MODERATOR].username)
    url = f"/console/community/posts/{event_id}/open-data/"

    page = client.get(f"/console/community/posts/{event_id}/").content.decode()
    assert "オープンデータに公開する" in page and url in page
    published = client.post(url, {"open_data": "1"})
    assert published.status_code == 302 and "?done=open_data_on" in published["Location"]
    open_data, since = _flag(board.tenant, event_id)
    assert open_data is True and since is not None
    assert "オープンデータから外す" in client.get(f"/console/community/posts/{event_id}/").content.decode()
    assert client.post(url, {"open_data": "1"}).status_code == 302  # idempotent: no second audit row

    listing = client.get("/console/community/?view=events")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "清掃活動" in html and "公開 / Published" in html and "<b>主催" not in html
    back = client.post(url, {"open_data": "0", "next": "events"})
    assert back.status_code == 302 and back["Location"].endswith("/console/community/?view=events")
    assert _flag(board.tenant, event_id) == (False, None)

    moderator = saga.staff[Role.COMMUNITY_MODERATOR].pk
    assert _audits(board.tenant, event_id) == [(moderator, True, "moderator"), (moderator, False, "moderator")]
    assert client.post(url, {"open_data": "maybe"}).status_code == 400
    assert client.post(url, {}).status_code == 400
    assert client.post(f"/console/community/posts/{plain_id}/open-data/", {"open_data": "1"}).status_code == 404
    assert client.post("/console/community/posts/999999999/open-data/", {"open_data": "1"}).status_code == 404
    assert client.get(url).status_code == 405
    assert _flag(board.tenant, event_id) == (False, None)


def test_a_moderator_can_withdraw_what_the_organiser_published(board, saga):
    organiser = board.member()
    event_id = _create(organiser, board.district.id, open_data=True).json()["id"]
    client = console(saga, saga.staff[Role.COMMUNITY_MODERATOR].username)
    assert client.post(f"/console/community/posts/{event_id}/open-data/", {"open_data": "0"}).status_code == 302
    assert _flag(board.tenant, event_id) == (False, None)
    # The organiser still sees the truth and may publish again (the moderator's audit row says who withdrew it).
    assert organiser.client().get(f"/api/v1/community/events/{event_id}/").json()["open_data"] is False


def test_the_console_toggle_is_per_municipality(board, saga, kanzaki, kanzaki_board):
    event_id = board.event(board.member())["id"]
    kanzaki_moderator = console(kanzaki, kanzaki.staff[Role.COMMUNITY_MODERATOR].username)
    with kanzaki.schema():
        assert not Event.objects.filter(pk=event_id).exists()
    assert kanzaki_moderator.post(f"/console/community/posts/{event_id}/open-data/",
                                  {"open_data": "1"}).status_code == 404
    assert "清掃活動" not in kanzaki_moderator.get("/console/community/?view=events").content.decode()
    assert _flag(board.tenant, event_id) == (False, None)


@pytest.mark.parametrize("count", [1, 5])
def test_console_events_tab_query_count_is_constant(board, saga, count):
    organiser = board.member()
    for _ in range(count):
        board.event(organiser)
    client = console(saga, saga.staff[Role.COMMUNITY_MODERATOR].username)
    client.get("/console/community/?view=events")
    # SET search_path, session, user, role groups, the events (+post, district).
    with assert_num_queries(5):
        response = client.get("/console/community/?view=events")
    assert response.status_code == 200


# --- Demo -------------------------------------------------------------------------------------------
def test_the_demo_seeds_public_events_once(board, saga):
    from miniapps.community.demo import seed_community_demo

    board.member("勧興の住民")
    with saga.schema():
        lines = seed_community_demo(municipality_code="412015")
        again = seed_community_demo(municipality_code="412015")
        events = list(Event.objects.select_related("post").order_by("starts_at"))
    assert "2 events, 1 published" in lines[0] and "0 events" in again[0]  # 本庄 is not among the test's districts
    assert [(event.post.title, event.open_data) for event in events] == [
        ("勧興 子ども会 役員打ち合わせ", False), ("勧興校区 防災まち歩き", True)]
    body = saga.client(None).get("/api/v1/opendata/event.csv").content.decode("utf-8-sig")
    [record] = csv.DictReader(io.StringIO(body))
    assert (record["イベント名"], record["主催者"], record["緯度"]) == ("勧興校区 防災まち歩き", "勧興校区 地域共創", "33.254500")
