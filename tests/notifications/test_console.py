"""The push console pages (/console/notifications/): compose with Japanese field errors, the live
audience size (the same figures as the staff API), the confirmation step of a send to everyone,
scheduling in Asia/Tokyo, cancelling, delivery stats (the same as the API's), escaping.

The role matrix, anonymous and cross-tenant session tests of these routes come from
tests/admin_console/routes.py; their query counts from PAGE_QUERIES in tests/admin_console/test_pages.py."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, District, User
from accounts.roles import Role
from accounts.services import district_create, resident_create
from notifications import pipeline
from notifications.models import Delivery, Device, InboxEntry, Notification
from notifications.services import notification_create
from tests.admin_console.conftest import console_client
from tests.base import assert_num_queries

TOKYO = ZoneInfo("Asia/Tokyo")
COMPOSE = "/console/notifications/new/"
SIZE = "/console/notifications/audience-size/"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img/src=x/onerror=alert(2)>"  # a valid interest tag: no spaces, at most 32 characters


def _district_with_residents(tenant, name: str, residents: int = 2, devices_each: int = 1) -> District:
    with tenant.schema():
        district = district_create(name=name)
        for i in range(residents):
            user = resident_create(nickname=f"{name}{i}", district=district).token.user
            for j in range(devices_each):
                Device.objects.create(user=user, token=f"console-{district.pk}-{i}-{j}", platform="android",
                                      registered_at=timezone.now())
    return district


def _post(tenant, who, data, path=COMPOSE, **extra):
    return console_client(tenant, who).post(path, data, **extra)


def _form(**overrides) -> dict:
    data = {"title": "大雨への備え", "body": "今夜から大雨の予報です。", "topic": "disaster", "priority": "",
            "audience": "filtered", "when": "now", "action": "send"}
    data.update(overrides)
    return data


def _notifications(tenant) -> list[Notification]:
    with tenant.schema():
        return list(Notification.objects.order_by("pk"))


# --- compose: field errors in Japanese -----------------------------------------------------------
@pytest.mark.parametrize("who, overrides, messages", [
    ("disaster_staff", {"title": "", "body": ""}, ["この項目は必須です。"]),
    ("disaster_staff", {"title": "x" * 101}, ["この値は 100 文字以下でなければなりません( 101 文字になっています)。"]),
    ("disaster_staff", {}, ["校区・関心タグ・年代・ミニアプリのうち1つ以上を指定してください。"]),
    ("disaster_staff", {"interests": "a" * 33}, ["関心タグは1つ32文字以内で指定してください。"]),
    ("disaster_staff", {"interests": "nobody-has-this-tag"},
     ["条件に当てはまる住民がいません。条件を見直してください。 / No resident matches this audience."]),
    ("disaster_staff", {"audience": "everyone", "deep_link": "javascript:alert(1)"},
     ["アプリ内のパス（/ で始まる）か https:// のURLを入力してください。"]),
    ("disaster_staff", {"audience": "everyone", "when": "later"}, ["予約する日時を入力してください。"]),
    ("disaster_staff", {"audience": "everyone", "when": "later", "send_at": "2020-04-01T09:00"},
     ["予約日時は現在より後の日時を指定してください。"]),
    ("disaster_staff", {"audience": "everyone", "when": "later", "send_at": "明日の朝"},
     ["日時を正しく入力してください。"]),
    ("disaster_staff", {"audience": "everyone", "districts": ["999999"]},
     ["正しく選択してください。 999999 は候補にありません。"]),
    # Topics follow notifications/roles.py: a community moderator cannot send disaster notifications.
    ("community_moderator", {"audience": "everyone"}, ["正しく選択してください。 disaster は候補にありません。"]),
])
def test_compose_shows_field_errors_in_japanese_and_sends_nothing(saga, who, overrides, messages):
    response = _post(saga, who, _form(**overrides))
    assert response.status_code == 400
    html = response.content.decode()
    for message in messages:
        assert message in html, html[html.find("errorlist") - 300:][:1200]
    assert 'class="errorlist' in html
    assert _notifications(saga) == []


def test_compose_offers_only_the_topics_of_the_senders_role(saga):
    def topics(who):
        html = console_client(saga, who).get(COMPOSE).content.decode()
        select = html[html.index('name="topic"'):]
        return re.findall(r'<option value="([a-z_]+)"', select[:select.index("</select>")])

    assert topics("disaster_staff") == ["disaster"]
    assert topics("community_moderator") == ["community", "events"]
    assert topics("admin") == ["disaster", "garbage", "community", "events", "city_news"]


# --- sending, scheduling, confirming -------------------------------------------------------------
def test_send_now_to_a_district(saga, django_capture_on_commit_callbacks):
    district = _district_with_residents(saga, "送信校区")
    client = console_client(saga, "disaster_staff")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(COMPOSE, _form(districts=[str(district.pk)], deep_link="/shelters"))
    assert response.status_code == 302
    [notification] = _notifications(saga)
    assert response["Location"] == f"/console/notifications/{notification.pk}/"
    assert notification.audience == {"districts": [district.pk]} and notification.mode == "topic"
    assert notification.status == "queued" and notification.send_at is None
    assert notification.priority == "high" and notification.deep_link == "/shelters"
    assert notification.created_by_id == saga.staff["disaster_staff"].pk
    assert len(callbacks) == 1  # the dispatch task, sent on commit (as from the API)
    with saga.schema():
        assert AuditEvent.objects.filter(action="notification.create", target_id=str(notification.pk)).exists()
    page = client.get(response["Location"]).content.decode()
    assert "「大雨への備え」の送信を開始しました。" in page and "校区: 送信校区" in page


def test_schedule_for_tomorrow_morning_in_tokyo_time(saga, django_capture_on_commit_callbacks):
    district = _district_with_residents(saga, "予約校区")
    tomorrow = timezone.localdate() + timedelta(days=1)
    client = console_client(saga, "disaster_staff")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(COMPOSE, _form(districts=[str(district.pk)], when="later",
                                              send_at=f"{tomorrow.isoformat()}T07:30"))
    assert response.status_code == 302
    [notification] = _notifications(saga)
    assert notification.status == "scheduled"
    assert notification.send_at == datetime(tomorrow.year, tomorrow.month, tomorrow.day, 7, 30, tzinfo=TOKYO)
    assert callbacks == []  # the beat sends it when it is due
    page = client.get(response["Location"]).content.decode()
    assert f"{tomorrow.isoformat()} 07:30 に予約しました。" in page
    assert "予約を取り消す" in page and "hx-trigger" not in page  # nothing to watch until it is sent


def test_cancel_a_scheduled_notification(saga):
    district = _district_with_residents(saga, "取消校区")
    with saga.schema():
        notification = notification_create(acting_user=saga.staff["disaster_staff"], title="明日の訓練", body="b",
                                           topic="disaster", audience={"districts": [district.pk]},
                                           send_at=timezone.now() + timedelta(hours=5))
    path = f"/console/notifications/{notification.pk}/cancel/"
    assert _post(saga, "community_moderator", {}, path).status_code == 403  # may not send disaster ones
    assert console_client(saga, "disaster_staff").get(path).status_code == 405
    assert _notifications(saga)[0].status == "scheduled"

    client = console_client(saga, "disaster_staff")
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == f"/console/notifications/{notification.pk}/"
    assert _notifications(saga)[0].status == "cancelled"
    with saga.schema():
        assert AuditEvent.objects.filter(action="notification.cancel", target_id=str(notification.pk)).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "予約を取り消しました。" in page and "取消" in page and "予約を取り消す" not in page

    again = client.post(path, follow=True).content.decode()
    assert "予約中の通知のみ取り消せます。" in again
    with saga.schema():
        assert AuditEvent.objects.filter(action="notification.cancel").count() == 1


def test_a_send_to_everyone_asks_for_confirmation_first(saga, django_capture_on_commit_callbacks):
    data = _form(audience="everyone", title=f"全市一斉{SCRIPT}", body="避難情報です。")
    client = console_client(saga, "disaster_staff")
    step = client.post(COMPOSE, data)
    assert step.status_code == 200 and _notifications(saga) == []
    html = step.content.decode()
    assert "全員への配信の確認" in html and "このお知らせは登録しているすべての住民に届きます。" in html
    assert re.search(r"住民 \d+ 人・端末 \d+ 台", html)
    assert SCRIPT not in html and "全市一斉&lt;script&gt;" in html
    assert '<input type="hidden" name="audience" value="everyone"' in html

    back = client.post(COMPOSE, {**data, "action": "edit"})
    assert back.status_code == 200 and _notifications(saga) == []
    assert 'value="everyone" required id="id_audience_0" checked' in back.content.decode()

    with django_capture_on_commit_callbacks() as callbacks:
        sent = client.post(COMPOSE, {**data, "action": "confirm"})
    assert sent.status_code == 302
    [notification] = _notifications(saga)
    assert notification.broadcast_everyone and notification.audience == {"everyone": True}
    assert len(callbacks) == 1


def test_a_scheduled_send_to_everyone_is_confirmed_too(saga):
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    data = _form(audience="everyone", when="later", send_at=f"{tomorrow}T18:00", topic="city_news")
    step = _post(saga, "admin", data)
    assert step.status_code == 200 and f"{tomorrow} 18:00" in step.content.decode()
    assert _post(saga, "admin", {**data, "action": "confirm"}).status_code == 302
    assert [n.status for n in _notifications(saga)] == ["scheduled"]


# --- the audience size ---------------------------------------------------------------------------
def _size_text(response) -> str:
    match = re.search(r"住民 ([\d,]+) 人・端末 ([\d,]+) 台", response.content.decode())
    return f"{match[1]}/{match[2]}" if match else ""


def test_audience_size_fragment_matches_the_api(saga):
    north = _district_with_residents(saga, "北の校区", residents=2, devices_each=2)
    _district_with_residents(saga, "南の校区", residents=3)
    with saga.schema():
        resident_create(nickname="関心あり", district=north, interests=["bousai"], birth_year=1950)
    client = console_client(saga, "disaster_staff")

    response = client.post(SIZE, {"topic": "disaster", "audience": "filtered", "districts": [str(north.pk)]},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and _size_text(response) == "3/4" and "（トピック配信）" in html
    api = saga.client("disaster_staff").post("/api/v1/staff/notifications/audience-size/",
                                             {"audience": {"districts": [north.pk]}, "topic": "disaster"},
                                             format="json").json()
    assert (api["residents"], api["devices"]) == (3, 4)

    narrower = client.post(SIZE, {"topic": "disaster", "audience": "filtered", "districts": [str(north.pk)],
                                  "interests": "BOUSAI", "age_bands": ["70-79", "80+"]})
    assert _size_text(narrower) == "1/0" and "（端末ごとに配信）" in narrower.content.decode()

    everyone = client.post(SIZE, {"topic": "disaster", "audience": "everyone", "districts": [str(north.pk)]})
    with saga.schema():
        residents, devices = User.objects.filter(kind="resident").count(), Device.objects.count()
    assert devices == 7 and _size_text(everyone) == f"{residents}/{devices}"  # the criteria are ignored for everyone

    prompt = client.post(SIZE, {"topic": "disaster", "audience": "filtered"})
    assert prompt.status_code == 200 and "配信対象を選ぶと、届く住民と端末の数がここに表示されます。" in prompt.content.decode()

    nobody = client.post(SIZE, {"topic": "disaster", "audience": "filtered", "interests": "nobody"})
    assert _size_text(nobody) == "0/0" and "条件に当てはまる住民がいません。" in nobody.content.decode()

    bad = client.post(SIZE, {"topic": "disaster", "audience": "filtered", "districts": ["999999"]})
    assert bad.status_code == 400 and "正しく選択してください。 999999 は候補にありません。" in bad.content.decode()


def test_audience_size_leaves_out_residents_who_muted_the_topic(saga):
    district = _district_with_residents(saga, "ミュート校区", residents=2)
    with saga.schema():
        from notifications.services import notification_preferences_set

        user = Device.objects.filter(user__district=district).first().user
        notification_preferences_set(user=user, muted_topics=["events"])
    client = console_client(saga, "admin")
    data = {"audience": "filtered", "districts": [str(district.pk)]}
    assert _size_text(client.post(SIZE, {**data, "topic": "events"})) == "1/1"
    assert _size_text(client.post(SIZE, {**data, "topic": "disaster"})) == "2/2"  # disaster cannot be muted


def test_audience_size_query_count_is_constant(saga):
    district = _district_with_residents(saga, "数える校区", residents=1)
    client = console_client(saga, "disaster_staff")
    data = {"topic": "disaster", "audience": "filtered", "districts": [str(district.pk)]}
    client.post(SIZE, data)
    # session, user, roles; districts, the catalog (the form's choices); the district check; the size
    with assert_num_queries(8):
        assert client.post(SIZE, data).status_code == 200
    _district_with_residents(saga, "増える校区", residents=12, devices_each=2)
    with assert_num_queries(8):
        assert client.post(SIZE, data).status_code == 200


def test_the_size_button_works_without_javascript(saga):
    district = _district_with_residents(saga, "ボタン校区", residents=2)
    response = _post(saga, "disaster_staff", _form(title="", districts=[str(district.pk)], action="size"))
    assert response.status_code == 200 and _notifications(saga) == []
    html = response.content.decode()
    assert _size_text(response) == "2/2"
    assert "errorlist" not in html  # the empty title is not an error yet: nothing was sent
    assert f'value="{district.pk}" id="id_districts_' in html and "checked" in html


# --- detail and list -----------------------------------------------------------------------------
def test_detail_shows_the_apis_delivery_stats_and_refreshes_while_sending(saga):
    district = _district_with_residents(saga, "統計校区", residents=3)
    with saga.schema():
        residents = list(User.objects.filter(district=district).values_list("pk", flat=True))
        notification = notification_create(acting_user=saga.admin, title="統計", body="b", topic="disaster",
                                           audience={"user_ids": residents})  # per device
        pipeline.dispatch(notification.pk)  # deliveries and inbox rows; the chunk is not run here
        deliveries = list(Delivery.objects.filter(notification=notification).order_by("pk"))
        Delivery.objects.filter(pk=deliveries[0].pk).update(status="sent")
        Delivery.objects.filter(pk=deliveries[1].pk).update(status="failed", error_code="UNREGISTERED")
        InboxEntry.objects.filter(notification=notification).update(read_at=timezone.now())
        InboxEntry.objects.filter(notification=notification, user=deliveries[0].device.user).update(
            opened_at=timezone.now())
    client = console_client(saga, "analyst")  # analysts read delivery stats, as in the API
    html = client.get(f"/console/notifications/{notification.pk}/").content.decode()
    api = saga.client("analyst").get(f"/api/v1/staff/notifications/{notification.pk}/").json()["stats"]
    shown = dict(re.findall(r'id="stat-([a-z-]+)">([\d,]+)<', html))
    assert shown == {key.replace("_", "-"): str(value) for key, value in api.items() if key != "topic_messages"}
    assert api["targeted"] == 3 and api["sent"] == 1 and api["failed"] == 1 and api["deactivated"] == 1
    assert api["opened"] == 1 and api["read"] == 3
    assert 'hx-get="/console/notifications/' in html and 'hx-trigger="every 2s"' in html  # sending
    assert "予約を取り消す" not in html and "新しいお知らせを作成" not in html

    partial = client.get(f"/console/notifications/{notification.pk}/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.content.decode()
    assert 'id="notification-stats"' in partial.content.decode()
    with saga.schema():
        Delivery.objects.filter(notification=notification, status="pending").update(status="sent")
        Notification.objects.filter(pk=notification.pk).update(status="sent", completed_at=timezone.now())
    done = client.get(f"/console/notifications/{notification.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and "送信済み</span>" in done  # stops polling once sent


def test_list_is_newest_first_paginated_with_figures(saga):
    district = _district_with_residents(saga, "一覧校区", residents=1)
    with saga.schema():
        for i in range(32):
            notification_create(acting_user=saga.admin, title=f"お知らせ{i:02d}", body="b", topic="city_news",
                                audience={"districts": [district.pk]})
    client = console_client(saga, "analyst")
    first = client.get("/console/notifications/").content.decode()
    titles = re.findall(r'/console/notifications/\d+/">([^<]+)</a>', first)
    assert titles[:2] == ["お知らせ31", "お知らせ30"] and len(titles) == 30
    assert "32 件" in first and 'href="?page=2"' in first and "校区: 一覧校区" in first
    second = client.get("/console/notifications/?page=2").content.decode()
    assert re.findall(r'/console/notifications/\d+/">([^<]+)</a>', second) == ["お知らせ01", "お知らせ00"]


def test_notifications_of_another_municipality_are_not_found(saga, kanzaki):
    with kanzaki.schema():
        district = district_create(name="神埼の校区")
        resident_create(nickname="神埼の住民", district=district)
        for _ in range(3):
            theirs = notification_create(acting_user=kanzaki.admin, title="神埼のお知らせ", body="b", topic="disaster",
                                         audience={"districts": [district.pk]}, send_at=timezone.now() + timedelta(days=1))
    with saga.schema():
        assert not Notification.objects.filter(pk=theirs.pk).exists()  # the id is free in Saga's schema
    client = console_client(saga, "admin")
    for response in (client.get(f"/console/notifications/{theirs.pk}/"),
                     client.post(f"/console/notifications/{theirs.pk}/cancel/")):
        assert response.status_code == 404 and "見つかりません。" in response.content.decode()
    assert "神埼のお知らせ" not in client.get("/console/notifications/").content.decode()
    with kanzaki.schema():
        assert Notification.objects.get(pk=theirs.pk).status == "scheduled"


# --- escaping ------------------------------------------------------------------------------------
def test_what_residents_and_staff_wrote_is_escaped(saga):
    with saga.schema():
        district = district_create(name=f"校区{SCRIPT}")
        for i in range(10):  # the privacy threshold: rarer tags are not suggested at all
            resident_create(nickname=f"タグ{i}", district=district, interests=[IMG])
        notification = notification_create(acting_user=saga.admin, title=f"件名{SCRIPT}", body=f"本文{IMG}",
                                           topic="city_news", deep_link=f"/x?{SCRIPT}",
                                           audience={"districts": [district.pk], "interests": [IMG]})
    client = console_client(saga, "admin")
    pages = {
        "compose": client.get(COMPOSE).content.decode(),  # the residents' tag among the suggestions
        "list": client.get("/console/notifications/").content.decode(),
        "detail": client.get(f"/console/notifications/{notification.pk}/").content.decode(),
        "size": client.post(SIZE, {"topic": "city_news", "audience": "filtered", "interests": SCRIPT}).content.decode(),
    }
    for name, html in pages.items():
        assert SCRIPT not in html and IMG not in html, name
    assert '<option value="&lt;img/src=x/onerror=alert(2)&gt;">' in pages["compose"]
    assert "関心: &lt;img/src=x/onerror=alert(2)&gt;" in pages["list"]
    assert "件名&lt;script&gt;" in pages["detail"] and "本文&lt;img" in pages["detail"]
    assert "校区: 校区&lt;script&gt;" in pages["detail"]


def test_rare_interest_tags_are_not_suggested(saga):
    with saga.schema():
        for i in range(9):
            resident_create(nickname=f"まれ{i}", interests=["rare-tag"])
        for i in range(10):
            resident_create(nickname=f"よく{i}", interests=["common-tag"])
    html = console_client(saga, "admin").get(COMPOSE).content.decode()
    assert '<option value="common-tag">' in html and "rare-tag" not in html  # privacy_threshold is 10


# --- roles ---------------------------------------------------------------------------------------
def test_console_sections_follow_the_notification_roles():
    from admin_console.access import SECTIONS_BY_KEY
    from notifications.roles import SENDER_ROLES, STATS_ROLES

    admin = {Role.MUNICIPALITY_ADMIN}
    assert set(SECTIONS_BY_KEY["notifications_send"].roles) == set(SENDER_ROLES) - admin
    assert set(SECTIONS_BY_KEY["notifications"].roles) == set(STATS_ROLES) - admin


def test_analysts_read_but_do_not_compose(saga):
    client = console_client(saga, "analyst")
    listing = client.get("/console/notifications/")
    assert listing.status_code == 200 and "新しいお知らせを作成" not in listing.content.decode()
    assert client.get(COMPOSE).status_code == 403
    assert client.post(SIZE, {"topic": "disaster", "audience": "everyone"}).status_code == 403
    nav = console_client(saga, "disaster_staff").get("/console/").content.decode()
    assert 'href="/console/notifications/"' in nav
    assert 'href="/console/notifications/"' not in console_client(saga, "teacher").get("/console/").content.decode()


def test_the_pages_in_english(saga, settings):
    district = _district_with_residents(saga, "英語校区", residents=2)
    client = console_client(saga, "disaster_staff")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    compose = client.get(COMPOSE).content.decode()
    assert '<html lang="en">' in compose and "New notification" in compose
    assert '<option value="disaster">Disaster</option>' in compose and "Residents matching all of these criteria" in compose
    size = client.post(SIZE, {"topic": "disaster", "audience": "filtered", "districts": [str(district.pk)]})
    assert "2 residents, 2 devices" in size.content.decode() and "(topic broadcast)" in size.content.decode()
    errors = client.post(COMPOSE, _form(title="", when="later", audience="everyone")).content.decode()
    assert "This field is required." in errors and "Enter the date and time to send." in errors
