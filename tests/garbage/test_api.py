"""Resident API of the garbage calendar through the front door: shapes, 4xx with codes and fields,
exact query counts, Asia/Tokyo dates, iCal parsed back by the icalendar library."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone as dt_timezone

import pytest
from django.utils import timezone
from icalendar import Calendar

from miniapps.garbage.models import Category
from tests.base import assert_num_queries

from .conftest import area_id

# A tenant request: SET search_path once, then the view's own queries. Anonymous requests skip the
# token lookup; a resident's costs one query (token and user joined) plus last-used bookkeeping.


def warm(client, path: str = "/api/v1/garbage/categories/"):
    """The first request of a test may look the host up (per-process host cache); counts start after."""
    client.get(path)
    return client


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "message_en", "fields"}, body
    return body["error"]


def test_categories(garbage_calendars, saga):
    client = warm(saga.client())
    with assert_num_queries(2):
        response = client.get("/api/v1/garbage/categories/")
    assert response.status_code == 200
    first = response.json()[0]
    assert first["name"] == "燃えるごみ" and first["color"] == "#ea3b13" and "指定袋" in first["description"]


def test_area_search_and_detail(garbage_calendars, saga):
    client = warm(saga.client())
    with assert_num_queries(3):
        response = client.get("/api/v1/garbage/areas/", {"q": "大財"})
    body = response.json()
    assert body["count"] == 6 and all("大財" in a["name"] for a in body["results"])
    aid = area_id(saga, "今宿町")
    with assert_num_queries(3):
        response = client.get(f"/api/v1/garbage/areas/{aid}/")
    assert response.json()["rules"][0] == {
        "category": {"id": response.json()["rules"][0]["category"]["id"], "name": "燃えるごみ", "color": "#ea3b13"},
        "rule": "月 木", "description": "毎週月・木曜日", "description_en": "Every Mon, Thu"}


def test_collections_for_a_full_year_costs_a_fixed_number_of_queries(garbage_calendars, saga):
    aid = area_id(saga, "今宿町")
    client = warm(saga.client())
    with assert_num_queries(5):  # search_path, area, rules+categories, closures, changes
        response = client.get(f"/api/v1/garbage/areas/{aid}/collections/?from=2021-04-01&to=2022-03-31")
    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 105 + 24 + 24 + 24  # 2021-04-01 is a Thursday: 105 Mondays and Thursdays
    assert rows == sorted(rows, key=lambda r: r["date"])
    assert set(rows[0]) == {"date", "category", "note"} and set(rows[0]["category"]) == {"id", "name", "color"}


@pytest.mark.parametrize(("query", "field"), [
    ("from=2021-05-01&to=2021-04-01", "to"),
    ("from=2021-01-01&to=2022-02-05", "to"),
    ("from=2021-02-30", "from"),
    ("from=2021/01/01", "from"),
    ("to=tomorrow", "to"),
])
def test_bad_ranges_are_400_naming_the_field(garbage_calendars, saga, query, field):
    aid = area_id(saga, "今宿町")
    response = saga.client().get(f"/api/v1/garbage/areas/{aid}/collections/?{query}")
    assert response.status_code == 400
    body = error(response)
    assert body["code"] == "validation_error" and list(body["fields"]) == [field]


def test_the_range_may_cover_exactly_400_days(garbage_calendars, saga):
    aid = area_id(saga, "今宿町")
    start = date(2021, 4, 1)
    ok = saga.client().get(f"/api/v1/garbage/areas/{aid}/collections/?from={start}&to={start + timedelta(days=399)}")
    too_long = saga.client().get(f"/api/v1/garbage/areas/{aid}/collections/?from={start}&to={start + timedelta(days=400)}")
    assert ok.status_code == 200 and too_long.status_code == 400


@pytest.mark.parametrize("suffix", ["", "collections/", "next/", "calendar.ics"])
def test_unknown_area_is_404_in_the_error_shape(garbage_calendars, saga, suffix):
    accept = "text/calendar" if suffix.endswith(".ics") else "application/json"
    response = saga.client().get(f"/api/v1/garbage/areas/987654/{suffix}", HTTP_ACCEPT=accept)
    assert response.status_code == 404 and error(response)["code"] == "not_found"


def test_next_is_computed_in_asia_tokyo(garbage_calendars, saga, monkeypatch):
    # 2021-01-07 15:30 UTC is already Friday 2021-01-08 00:30 in Tokyo.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2021, 1, 7, 15, 30, tzinfo=dt_timezone.utc))
    aid = area_id(saga, "今宿町")
    client = warm(saga.client())
    with assert_num_queries(5):
        response = client.get(f"/api/v1/garbage/areas/{aid}/next/")
    assert [(r["date"], r["category"]["name"], r["days_until"]) for r in response.json()] == [
        ("2021-01-08", "燃えないごみ", 0),
        ("2021-01-11", "燃えるごみ", 3),
        ("2021-01-15", "資源物（紙・布類、ビン・缶）", 7),
        ("2021-01-20", "ペットボトル", 12),
    ]


def test_next_today_agrees_with_collections(garbage_calendars, kanzaki):
    aid = area_id(kanzaki, "山手")
    client = kanzaki.client()
    today = timezone.localdate()
    upcoming = client.get(f"/api/v1/garbage/areas/{aid}/collections/?from={today}&to={today + timedelta(days=399)}").json()
    first = {}
    for row in upcoming:
        first.setdefault(row["category"]["name"], row["date"])
    nxt = client.get(f"/api/v1/garbage/areas/{aid}/next/").json()
    assert {r["category"]["name"]: r["date"] for r in nxt} == first


def test_ical_feed_parses_to_the_same_dates_as_the_api(garbage_calendars, kanzaki):
    aid = area_id(kanzaki, "駅前")
    client = kanzaki.client()
    query = "from=2025-04-01&to=2026-03-31"
    api = client.get(f"/api/v1/garbage/areas/{aid}/collections/?{query}").json()
    with assert_num_queries(6):  # the five of collections, and the remarks 駅前's cells reference
        response = client.get(f"/api/v1/garbage/areas/{aid}/calendar.ics?{query}", HTTP_ACCEPT="text/calendar")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert str(calendar["X-WR-CALNAME"]) == "ごみカレンダー 駅前"
    parsed = sorted((e.decoded("DTSTART").isoformat(), str(e["SUMMARY"])) for e in events)
    assert parsed == sorted((row["date"], row["category"]["name"]) for row in api)
    for event in events:  # all-day events, one day long
        assert type(event.decoded("DTSTART")) is date
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(days=1)
    noted = [e for e in events if e.decoded("DTSTART") == date(2025, 5, 5)]
    assert str(noted[0]["DESCRIPTION"]) == "祝日も収集します。"
    # UIDs are unique and stable from one fetch to the next.
    again = Calendar.from_ical(client.get(f"/api/v1/garbage/areas/{aid}/calendar.ics?{query}").content)
    uids = [str(e["UID"]) for e in events]
    assert len(set(uids)) == len(uids) == len(api)
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == uids


def test_ical_default_window_and_range_errors(garbage_calendars, kanzaki):
    aid = area_id(kanzaki, "駅前")
    client = kanzaki.client()
    events = Calendar.from_ical(client.get(f"/api/v1/garbage/areas/{aid}/calendar.ics").content).walk("VEVENT")
    today = timezone.localdate()
    starts = [e.decoded("DTSTART") for e in events]
    if starts:  # the fixture city's rules run forever: a year ahead has events
        assert min(starts) >= today - timedelta(days=31) and max(starts) <= today + timedelta(days=400)
    response = client.get(f"/api/v1/garbage/areas/{aid}/calendar.ics?from=2026-01-01&to=2025-01-01",
                          HTTP_ACCEPT="text/calendar")
    assert response.status_code == 400 and error(response)["fields"].keys() == {"to"}


def test_items_search_query_count_and_shape(garbage_calendars, saga):
    client = warm(saga.client())
    with assert_num_queries(3):
        response = client.get("/api/v1/garbage/items/", {"q": "ペットボトル"})
    results = response.json()["results"]
    assert results and set(results[0]) == {"id", "name", "kana", "name_en", "category", "category_label", "notice",
                                            "remarks", "fee", "index_label"}


# --- reminders ------------------------------------------------------------------------------------
def test_reminder_defaults_when_never_set(garbage_calendars, saga):
    client = warm(saga.client("resident"))
    with assert_num_queries(3):  # search_path, token+user, reminder
        response = client.get("/api/v1/garbage/reminder/")
    assert response.json() == {"area": None, "categories": [], "timing": "evening_before", "time": "20:00",
                               "enabled": False}


def test_reminder_put_and_get(garbage_calendars, saga):
    client = saga.client("resident")
    aid = area_id(saga, "今宿町")
    with saga.schema():
        burnable = Category.objects.get(name="燃えるごみ").id
    response = client.put("/api/v1/garbage/reminder/", {"area": aid, "categories": [burnable]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["area"]["name"] == "今宿町" and body["time"] == "20:00" and body["timing"] == "evening_before"
    assert body["categories"] == [{"id": burnable, "name": "燃えるごみ", "color": "#ea3b13"}] and body["enabled"]
    response = client.put("/api/v1/garbage/reminder/", {"area": aid, "timing": "morning_of"}, format="json")
    assert response.json()["time"] == "06:30" and response.json()["categories"] == []
    response = client.put("/api/v1/garbage/reminder/", {"area": aid, "timing": "evening_before", "time": "21:15"},
                          format="json")
    assert response.json()["time"] == "21:15"
    with assert_num_queries(3):  # no categories chosen: no category query
        assert client.get("/api/v1/garbage/reminder/").json()["time"] == "21:15"
    client.put("/api/v1/garbage/reminder/", {"area": aid, "categories": [burnable]}, format="json")
    with assert_num_queries(4):  # search_path, token+user, reminder+area+group, categories
        assert client.get("/api/v1/garbage/reminder/").json()["categories"][0]["id"] == burnable


@pytest.mark.parametrize(("body", "field"), [
    ({"area": 987654}, "area"),
    ({"area": "x"}, "area"),
    ({"area": "AREA", "categories": [987654]}, "categories"),
    ({"area": "AREA", "timing": "noon"}, "timing"),
    ({"area": "AREA", "time": "25:00"}, "time"),
    ({"area": "AREA", "timing": "morning_of", "time": "20:00"}, "time"),
    ({"area": "AREA", "timing": "evening_before", "time": "06:00"}, "time"),
    ({}, "area"),
    ({"area": "AREA_AS_TEXT"}, "area"),
    ({"area": "AREA", "enabled": 0}, "enabled"),
])
def test_reminder_bad_input(garbage_calendars, saga, body, field):
    aid = area_id(saga, "今宿町")
    body = {k: aid if v == "AREA" else str(aid) if v == "AREA_AS_TEXT" else v for k, v in body.items()}
    response = saga.client("resident").put("/api/v1/garbage/reminder/", body, format="json")
    assert response.status_code == 400
    assert list(error(response)["fields"]) == [field]


@pytest.mark.parametrize(("who", "status"), [(None, 401), ("admin", 403), ("teacher", 403)])
def test_reminder_is_for_residents(garbage_calendars, saga, who, status):
    response = saga.client(who).get("/api/v1/garbage/reminder/")
    assert response.status_code == status
    assert error(response)["code"] in {"not_authenticated", "permission_denied"}


@pytest.mark.parametrize("query", ["page=", "page=abc", "page_size=0", "page_size=x&page_size=5", "page=1&page=2"])
def test_paging_parameters_must_be_positive_integers(garbage_calendars, saga, query):
    response = saga.client().get(f"/api/v1/garbage/areas/?{query}")
    assert response.status_code == 400 and error(response)["code"] == "validation_error"
