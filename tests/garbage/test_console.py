"""Staff console pages of the garbage calendar: roles (page and form post), cross-tenant sessions,
the pages drive the same services, constant query counts for the bookings of a day."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import Role
from accounts.services import resident_create
from miniapps.garbage import services
from miniapps.garbage.models import Area, AreaGroup, Category, CollectionChange, PickupDay, PickupItemType
from tests.base import assert_num_queries

PAGES = ["/console/garbage/", "/console/garbage/categories/", "/console/garbage/changes/", "/console/garbage/pickup/",
         "/console/garbage/bookings/", "/console/garbage/dictionary.csv"]


def console(tenant, who: str | None) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    if who is not None:
        user = tenant.admin if who == "admin" else tenant.staff[who]
        with tenant.schema():
            client.force_login(user)
    return client


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_is_sent_to_login(garbage_calendars, saga, path):
    response = console(saga, None).get(path)
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("who", [Role.TEACHER, Role.SHELTER_STAFF, Role.ANALYST, Role.DISASTER_STAFF])
def test_other_roles_get_403_on_pages_and_posts(garbage_calendars, saga, path, who):
    client = console(saga, who)
    assert client.get(path).status_code == 403
    assert client.post("/console/garbage/changes/", {"date": "2026-01-05", "action": "cancel"}).status_code == 403
    with saga.schema():
        assert not CollectionChange.objects.exists()


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("who", ["admin"])
def test_admins_see_every_page(garbage_calendars, saga, path, who):
    assert console(saga, who).get(path).status_code == 200


def test_a_saga_session_is_nothing_on_kanzakis_host(garbage_calendars, saga, kanzaki):
    client = console(saga, "admin")
    client.defaults["HTTP_HOST"] = kanzaki.host
    response = client.get("/console/garbage/")
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def test_staff_register_and_delete_a_holiday_shift(garbage_calendars, saga):
    client = console(saga, "admin")
    with saga.schema():
        burnable = Category.objects.get(name="燃えるごみ")
        group = AreaGroup.objects.get(name="佐賀地区あ行")
    day = timezone.localdate() + timedelta(days=10)
    response = client.post("/console/garbage/changes/", {
        "date": day.isoformat(), "action": "move", "new_date": (day + timedelta(days=1)).isoformat(),
        "category": burnable.id, "group": group.id, "note": "祝日のため翌日に収集"})
    assert response.status_code == 302
    bad = client.post("/console/garbage/changes/", {"date": day.isoformat(), "action": "move"})
    assert bad.status_code == 400 and "振替先の日付を指定してください" in bad.content.decode()
    with saga.schema():
        change = CollectionChange.objects.get()
        assert change.created_by == saga.admin and change.group == group
    assert "祝日のため翌日に収集" in client.get("/console/garbage/changes/").content.decode()
    assert client.post(f"/console/garbage/changes/{change.id}/delete/").status_code == 302
    with saga.schema():
        assert not CollectionChange.objects.exists()


def test_staff_edit_a_category(garbage_calendars, saga):
    client = console(saga, "admin")
    with saga.schema():
        category = Category.objects.get(name="ペットボトル")
    response = client.post(f"/console/garbage/categories/{category.id}/",
                           {"color": "#00a0e9", "sublabel": "PET", "description": "<p>キャップは外す</p>", "sort_order": 9})
    assert response.status_code == 302
    assert saga.client().get("/api/v1/garbage/categories/").json()[-1]["color"] == "#00a0e9"
    assert client.post(f"/console/garbage/categories/{category.id}/", {"color": "red", "sort_order": 1}).status_code == 400
    assert client.get("/console/garbage/categories/987654/").status_code == 404


def test_pickup_days_item_types_and_the_bookings_of_a_day(garbage_calendars, saga):
    client = console(saga, "admin")
    with saga.schema():
        group = AreaGroup.objects.get(name="佐賀地区あ行")
        area = Area.objects.get(name="今宿町")
    pickup_date = timezone.localdate() + timedelta(days=21)
    assert client.post("/console/garbage/pickup/", {"form": "type", "type-name": "ソファー", "type-fee": 1000,
                                                    "type-active": "on"}).status_code == 302
    assert client.post("/console/garbage/pickup/", {"form": "day", "day-date": pickup_date.isoformat(),
                                                    "day-group": group.id, "day-capacity": 20}).status_code == 302
    duplicate = client.post("/console/garbage/pickup/", {"form": "day", "day-date": pickup_date.isoformat(),
                                                         "day-group": group.id, "day-capacity": 5})
    assert duplicate.status_code == 400
    with saga.schema():
        day = PickupDay.objects.get(date=pickup_date)
        sofa = PickupItemType.objects.get(name="ソファー")
        for index in range(3):
            user = resident_create(nickname=f"予約者{index}").token.user
            services.booking_create(user=user, pickup_day=day, area=area, address=f"今宿町{index}番地",
                                    lines=[services.BookingLine(item_type=sofa, quantity=index + 1)])
    page = client.get("/console/garbage/bookings/", {"date": pickup_date.isoformat()})
    text = page.content.decode()
    assert page.status_code == 200 and "予約 3 件、品目 6 点、手数料 6000 円" in text and "今宿町2番地" in text
    client.get("/console/garbage/bookings/", {"date": pickup_date.isoformat()})
    with assert_num_queries(6):  # search_path, session, user, roles, bookings, their items
        client.get("/console/garbage/bookings/", {"date": pickup_date.isoformat()})
    # Lowering the capacity below what is booked is refused; staff cancel a resident's booking.
    assert client.post(f"/console/garbage/pickup/days/{day.id}/capacity/", {"capacity": 5}).status_code == 409
    with saga.schema():
        booking = day.bookings.order_by("id").first()
    assert client.post(f"/console/garbage/bookings/{booking.id}/cancel/").status_code == 302
    with saga.schema():
        day.refresh_from_db()
        assert day.booked_items == 5


def test_dictionary_csv_is_the_national_standard(garbage_calendars, saga):
    response = console(saga, "admin").get("/console/garbage/dictionary.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["全国地方公共団体コード", "ID", "地方公共団体名", "地区名", "ゴミの品目", "ゴミの品目_カナ",
                       "ゴミの品目_英字", "分別区分", "注意点", "備考", "粗大ごみ回収料金"]
    assert len(rows) == 1 + 270
    assert rows[1][:3] == ["412015", "1", "佐賀市"]
    assert any(r[4] == "アルミホイル" and r[7] == "燃えるごみ" for r in rows)
