"""Oversized-garbage booking (粗大ごみ収集予約): booking numbers, fees, cut-off two working days
before (Japanese holidays and the New Year closure), cancel, 409 codes, and no overbooking under
real concurrent requests on separate database connections."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.services import resident_create
from miniapps.garbage import services
from miniapps.garbage.models import Area, Booking, PickupDay, PickupItemType
from miniapps.garbage.workdays import booking_cutoff, is_working_day
from tests.base import TenantApiClient, assert_num_queries

from .conftest import area_id


@pytest.mark.parametrize(("pickup", "cutoff"), [
    ("2025-04-09", "2025-04-07"),  # Wed → Mon
    ("2025-04-14", "2025-04-10"),  # Mon → Thu
    ("2025-05-07", "2025-05-01"),  # after Golden Week: 5/6 substitute holiday, 5/5, 5/3-4 weekend
    ("2026-01-05", "2025-12-25"),  # after the New Year closure 12/29-1/3
    ("2025-09-24", "2025-09-19"),  # 9/23 秋分の日, 9/22 Monday is a working day → 9/22 is 1, 9/19 is 2
])
def test_cutoff_is_two_working_days_before(pickup, cutoff):
    assert booking_cutoff(date.fromisoformat(pickup)).isoformat() == cutoff


def test_working_days():
    assert not is_working_day(date(2025, 11, 3))  # 文化の日
    assert not is_working_day(date(2025, 12, 29)) and not is_working_day(date(2026, 1, 2))
    assert is_working_day(date(2025, 11, 4))


def _today(monkeypatch, day: date) -> None:
    """Freeze 'now' at noon Tokyo time on `day`."""
    moment = datetime(day.year, day.month, day.day, 3, 0, tzinfo=dt_timezone.utc)
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture
def pickup(garbage_calendars, saga, monkeypatch):
    """A pickup day for 佐賀地区あ行 on Wed 2025-04-23 (bookable until Mon 4/21), two item types."""
    _today(monkeypatch, date(2025, 4, 14))
    with saga.schema():
        admin = saga.admin
        sofa = services.pickup_item_type_save(acting_user=admin, name="ソファー", name_en="Sofa", fee=1000)
        chair = services.pickup_item_type_save(acting_user=admin, name="椅子", name_en="Chair", fee=300)
        area = Area.objects.get(name="今宿町")
        day = services.pickup_day_create(acting_user=admin, date=date(2025, 4, 23), group=area.group, capacity=5)
    return {"day": day.id, "sofa": sofa.id, "chair": chair.id, "area": area.id}


def _book(client, pickup, items=None, **extra):
    body = {"pickup_day": pickup["day"], "area": pickup["area"], "address": "佐賀市今宿町1-1",
            "items": items or [{"item_type": pickup["sofa"], "quantity": 1}, {"item_type": pickup["chair"], "quantity": 2}],
            **extra}
    return client.post("/api/v1/garbage/bookings/", body, format="json")


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "message_en", "fields"} == set(body["error"])
    return body["error"]["code"]


def test_book_list_detail_cancel(pickup, saga):
    client = saga.client("resident")
    client.get("/api/v1/garbage/categories/")
    with assert_num_queries(12):
        response = _book(client, pickup, phone="0952-00-0000")
    assert response.status_code == 201, response.content
    booking = response.json()
    assert booking["number"] == f"250423-{pickup['day']}-001"
    assert booking["item_count"] == 3 and booking["total_fee"] == 1000 + 2 * 300
    assert booking["status"] == "booked" and booking["cancel_until"] == "2025-04-21"
    assert booking["pickup_day"]["group"]["name"] == "佐賀地区あ行"
    assert [(i["name"], i["quantity"], i["fee_each"]) for i in booking["items"]] == [("ソファー", 1, 1000), ("椅子", 2, 300)]
    days = saga.client().get("/api/v1/garbage/pickup/days/", {"area": pickup["area"]}).json()
    assert [(d["date"], d["remaining"], d["bookable"], d["book_until"]) for d in days] == [("2025-04-23", 2, True, "2025-04-21")]
    with assert_num_queries(5):
        listing = client.get("/api/v1/garbage/bookings/").json()
    assert listing["count"] == 1 and listing["results"][0]["number"] == booking["number"]
    with assert_num_queries(4):
        assert client.get(f"/api/v1/garbage/bookings/{booking['id']}/").json()["number"] == booking["number"]
    with assert_num_queries(8):
        response = client.post(f"/api/v1/garbage/bookings/{booking['id']}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    with saga.schema():
        assert PickupDay.objects.get(pk=pickup["day"]).booked_items == 0
    again = client.post(f"/api/v1/garbage/bookings/{booking['id']}/cancel/")
    assert again.status_code == 409 and error_code(again) == "booking_already_cancelled"


def test_full_past_and_closed_days_are_409(pickup, saga, monkeypatch):
    client = saga.client("resident")
    assert _book(client, pickup, items=[{"item_type": pickup["chair"], "quantity": 5}]).status_code == 201
    full = _book(client, pickup, items=[{"item_type": pickup["chair"], "quantity": 1}])
    assert full.status_code == 409 and error_code(full) == "pickup_day_full"
    _today(monkeypatch, date(2025, 4, 22))  # after the cut-off (Mon 4/21)
    closed = _book(client, pickup)
    assert closed.status_code == 409 and error_code(closed) == "booking_closed"
    booking_id = client.get("/api/v1/garbage/bookings/").json()["results"][0]["id"]
    late = client.post(f"/api/v1/garbage/bookings/{booking_id}/cancel/")
    assert late.status_code == 409 and error_code(late) == "cancellation_closed"
    _today(monkeypatch, date(2025, 4, 24))
    past = _book(client, pickup)
    assert past.status_code == 409 and error_code(past) == "pickup_day_past"


@pytest.mark.parametrize(("change", "field"), [
    ({"area": "OTHER_GROUP"}, "area"),
    ({"area": 987654}, "area"),
    ({"pickup_day": 987654}, "pickup_day"),
    ({"items": [{"item_type": 987654, "quantity": 1}]}, "items"),
    ({"items": []}, "items"),
    ({"items": [{"item_type": "SOFA", "quantity": 0}]}, "items.0.quantity"),
    ({"items": [{"item_type": "SOFA", "quantity": 6}, {"item_type": "CHAIR", "quantity": 5}]}, "items"),
    ({"address": "   "}, "address"),
    ({"address": 12}, "address"),
])
def test_bad_booking_input_is_400_naming_the_field(pickup, saga, change, field):
    names = {"SOFA": pickup["sofa"], "CHAIR": pickup["chair"], "OTHER_GROUP": area_id(saga, "新村", "川副町")}
    body = {"pickup_day": pickup["day"], "area": pickup["area"], "address": "佐賀市今宿町1-1",
            "items": [{"item_type": pickup["sofa"], "quantity": 1}]}
    for key, value in change.items():
        if key == "items":
            value = [{**item, "item_type": names.get(item["item_type"], item["item_type"])} for item in value]
        body[key] = names.get(value, value) if isinstance(value, str) else value
    response = saga.client("resident").post("/api/v1/garbage/bookings/", body, format="json")
    assert response.status_code == 400, response.content
    assert error_code(response) == "validation_error"
    assert list(response.json()["error"]["fields"]) == [field]


def test_bookings_are_private_to_their_resident(pickup, saga):
    booking = _book(saga.client("resident"), pickup).json()
    with saga.schema():
        other = resident_create(nickname="別の住民").raw
    stranger = TenantApiClient(saga.host, other)
    for response in (stranger.get(f"/api/v1/garbage/bookings/{booking['id']}/"),
                     stranger.post(f"/api/v1/garbage/bookings/{booking['id']}/cancel/")):
        assert response.status_code == 404 and error_code(response) == "not_found"
    assert stranger.get("/api/v1/garbage/bookings/").json()["count"] == 0
    assert saga.client("admin").get("/api/v1/garbage/bookings/").status_code == 403
    assert saga.client().post("/api/v1/garbage/bookings/", {}, format="json").status_code == 401


# --- concurrency: real threads, separate connections, committed data -------------------------------
def _concurrent_bookings(saga, day_id: int, area: int, item_type: int, quantity: int, tokens: list[str]) -> list[int]:
    barrier = threading.Barrier(len(tokens))
    statuses: list[int] = [0] * len(tokens)

    def run(index: int, token: str) -> None:
        try:
            client = TenantApiClient(saga.host, token)
            barrier.wait(timeout=30)
            response = client.post("/api/v1/garbage/bookings/", {
                "pickup_day": day_id, "area": area, "address": f"今宿町{index}",
                "items": [{"item_type": item_type, "quantity": quantity}]}, format="json")
            statuses[index] = response.status_code
            if response.status_code == 409:
                assert response.json()["error"]["code"] == "pickup_day_full"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.mark.parametrize(("capacity", "quantity", "winners"), [(5, 1, 5), (7, 2, 3)])
def test_concurrent_requests_never_overbook(garbage_calendars, tenants_pair, django_db_blocker, capacity, quantity, winners):
    saga, _ = tenants_pair
    with django_db_blocker.unblock():
        with saga.schema():
            area = Area.objects.get(name="今宿町")
            pickup_date = timezone.localdate() + timedelta(days=30)
            day = services.pickup_day_create(acting_user=saga.admin, date=pickup_date, group=area.group, capacity=capacity)
            item_type = services.pickup_item_type_save(acting_user=saga.admin, name=f"テスト品目{capacity}", fee=500)
            tokens = [resident_create(nickname=f"同時予約{i}") for i in range(12)]
        connection.set_schema_to_public()
        try:
            statuses = _concurrent_bookings(saga, day.id, area.id, item_type.id, quantity, [t.raw for t in tokens])
            assert sorted(statuses) == [201] * winners + [409] * (12 - winners)
            with saga.schema():
                day.refresh_from_db()
                bookings = Booking.objects.filter(pickup_day=day)
                assert day.booked_items == winners * quantity <= day.capacity
                assert bookings.count() == winners
                assert len({b.number for b in bookings}) == winners
        finally:
            with saga.schema():
                Booking.objects.filter(pickup_day=day).delete()
                day.delete()
                item_type.delete()
                User.objects.filter(pk__in=[t.token.user_id for t in tokens]).delete()
            connection.set_schema_to_public()
