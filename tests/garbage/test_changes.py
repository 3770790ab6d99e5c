"""Staff one-off changes override the rules: cancel, add, move (also out of a closure), scoped to
every area, an area group or one area; specific scopes win over general ones."""
from __future__ import annotations

from datetime import date, datetime, timezone as dt_timezone

import pytest
from django.utils import timezone
from icalendar import Calendar

from miniapps.garbage import services
from miniapps.garbage.models import Area, AreaGroup, Category
from superapp.api.errors import ApiError

from tests.base import assert_num_queries

from .conftest import area_id


def dates(client, aid, start, end, category="燃えるごみ"):
    rows = client.get(f"/api/v1/garbage/areas/{aid}/collections/?from={start}&to={end}").json()
    return [(r["date"], r["note"]) for r in rows if r["category"]["name"] == category]


@pytest.fixture
def refs(garbage_calendars, saga, monkeypatch):
    # Staff changes must lie within about two years of today; Saga's data is from fiscal 2020.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2021, 1, 1, 3, 0, tzinfo=dt_timezone.utc))
    with saga.schema():
        return {"burnable": Category.objects.get(name="燃えるごみ"), "group": AreaGroup.objects.get(name="佐賀地区あ行"),
                "imajuku": Area.objects.get(name="今宿町")}


def test_move_for_a_group_only_touches_areas_collecting_that_day(refs, saga):
    with saga.schema():
        services.collection_change_create(acting_user=saga.admin, date=date(2021, 1, 11), action="move",
                                          new_date=date(2021, 1, 12), category=refs["burnable"], group=refs["group"],
                                          note="成人の日のため翌日に収集します")
    client = saga.client()
    assert dates(client, area_id(saga, "今宿町"), "2021-01-11", "2021-01-14") == [
        ("2021-01-12", "成人の日のため翌日に収集します"), ("2021-01-14", None)]
    # 鬼丸町 (same group) collects burnables on Tue/Fri: nothing to move.
    assert [d for d, _ in dates(client, area_id(saga, "鬼丸町"), "2021-01-11", "2021-01-15")] == ["2021-01-12", "2021-01-15"]
    # 福島 (大和町) is in another group: its Tuesday stays, no extra day.
    assert [d for d, _ in dates(client, area_id(saga, "福島", "大和町"), "2021-01-11", "2021-01-12")] == ["2021-01-12"]


def test_cancel_everywhere_then_add_back_for_one_area(refs, saga):
    with saga.schema():
        services.collection_change_create(acting_user=saga.admin, date=date(2021, 1, 14), action="cancel",
                                          category=refs["burnable"])
        services.collection_change_create(acting_user=saga.admin, date=date(2021, 1, 14), action="add",
                                          category=refs["burnable"], area=refs["imajuku"], note="臨時収集")
    client = saga.client()
    assert dates(client, area_id(saga, "今宿町"), "2021-01-14", "2021-01-14") == [("2021-01-14", "臨時収集")]
    assert dates(client, area_id(saga, "朝日町"), "2021-01-14", "2021-01-14") == []
    # Other categories that day are untouched by a burnable-only cancel.
    assert dates(client, area_id(saga, "鬼丸町"), "2021-01-14", "2021-01-14", "燃えないごみ") == [("2021-01-14", None)]


def test_a_move_can_rescue_a_day_the_closure_removed(refs, saga):
    with saga.schema():
        services.collection_change_create(acting_user=saga.admin, date=date(2020, 12, 31), action="move",
                                          new_date=date(2020, 12, 29), category=refs["burnable"], area=refs["imajuku"])
    assert [d for d, _ in dates(saga.client(), area_id(saga, "今宿町"), "2020-12-28", "2021-01-04")] == [
        "2020-12-28", "2020-12-29", "2021-01-04"]


def test_changes_reach_next_and_ical(refs, saga, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2021, 1, 10, 3, 0, tzinfo=dt_timezone.utc))
    with saga.schema():
        services.collection_change_create(acting_user=saga.admin, date=date(2021, 1, 11), action="cancel",
                                          category=refs["burnable"], area=refs["imajuku"])
    client = saga.client()
    aid = area_id(saga, "今宿町")
    nxt = {r["category"]["name"]: r["date"] for r in client.get(f"/api/v1/garbage/areas/{aid}/next/").json()}
    assert nxt["燃えるごみ"] == "2021-01-14"
    ics = Calendar.from_ical(client.get(f"/api/v1/garbage/areas/{aid}/calendar.ics?from=2021-01-11&to=2021-01-11").content)
    assert ics.walk("VEVENT") == []


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"action": "move"}, "new_date"),
    ({"action": "move", "new_date": date(2021, 1, 11)}, "new_date"),
    ({"action": "cancel", "new_date": date(2021, 1, 12)}, "new_date"),
    ({"action": "add"}, "category"),
    ({"action": "sideways"}, "action"),
])
def test_invalid_changes_are_refused(refs, saga, kwargs, field):
    with saga.schema(), pytest.raises(ApiError) as caught:
        services.collection_change_create(acting_user=saga.admin, date=date(2021, 1, 11), **kwargs)
    assert list(caught.value.fields) == [field]


def test_cached_answers_follow_a_committed_change(refs, saga, django_capture_on_commit_callbacks):
    client = saga.client()
    aid = area_id(saga, "今宿町")
    url = f"/api/v1/garbage/areas/{aid}/collections/?from=2021-01-14&to=2021-01-14"
    assert [r["date"] for r in client.get(url).json()] == ["2021-01-14"]
    with assert_num_queries(0):  # cached: not even the schema switch (it happens on the first query)
        assert [r["date"] for r in client.get(url).json()] == ["2021-01-14"]
    with saga.schema(), django_capture_on_commit_callbacks(execute=True):
        services.collection_change_create(acting_user=saga.admin, date=date(2021, 1, 14), action="cancel",
                                          category=refs["burnable"], area=refs["imajuku"])
    assert client.get(url).json() == []
