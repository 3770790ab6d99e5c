"""Emergency contacts with confirmation, family notices on check-in, CAP 1.2 alerts."""
from __future__ import annotations

import re

import pytest
from django.core import mail

from accounts.services import district_create
from shelters.models import Alert, FamilyNotice
from shelters.services import Evacuee, shelter_check_in
from tests.base import assert_num_queries

CAP = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{identifier}</identifier>
  <sender>bousai@city.saga.example</sender>
  <sent>2026-07-10T16:49:00+09:00</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>{references}
  <info>
    <language>ja-JP</language>
    <category>Met</category>
    <event>洪水警報</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <headline>{headline}</headline>
    <description>嘉瀬川が氾濫危険水位に達しました。</description>
    <instruction>直ちに避難してください。</instruction>
    <expires>2099-07-11T06:00:00+09:00</expires>
    <area><areaDesc>{area}</areaDesc></area>
  </info>
</alert>"""


def cap(identifier="saga-2026-0001", msg_type="Alert", references="", headline="【警戒レベル4】避難指示",
        area="嘉瀬校区") -> bytes:
    refs = f"\n  <references>{references}</references>" if references else ""
    return CAP.format(identifier=identifier, msg_type=msg_type, references=refs, headline=headline,
                      area=area).encode()


def post_cap(client, body: bytes, content_type="application/cap+xml"):
    return client.generic("POST", "/api/v1/staff/alerts/", body, content_type=content_type)


# --- Emergency contacts ------------------------------------------------------------------------
def test_contacts_are_confirmed_by_a_link(saga, django_capture_on_commit_callbacks, eager_celery):
    client = saga.client("resident")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.put("/api/v1/me/emergency-contacts/",
                              {"contacts": [{"email": "Mother@Example.jp", "name": "母"}]}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["contacts"] == [{"id": response.json()["contacts"][0]["id"], "email": "mother@example.jp",
                                            "name": "母", "confirmed": False}]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["mother@example.jp"]
    link = re.search(r"http://\S+/contacts/confirm/(\S+)/", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    page = saga.client().get(f"/contacts/confirm/{link.group(1)}/")
    assert page.status_code == 200 and "確認しました" in page.content.decode()
    assert client.get("/api/v1/me/emergency-contacts/").json()["contacts"][0]["confirmed"] is True
    assert saga.client().get("/contacts/confirm/not-a-token/").status_code == 404


def test_contacts_validation(saga):
    client = saga.client("resident")
    dup = client.put("/api/v1/me/emergency-contacts/", {"contacts": [{"email": "a@x.jp"}, {"email": "A@x.jp"}]},
                     format="json")
    assert dup.status_code == 400 and "contacts" in dup.json()["error"]["fields"]
    bad = client.put("/api/v1/me/emergency-contacts/", {"contacts": [{"email": "not-an-email"}]}, format="json")
    assert bad.status_code == 400 and "contacts.0.email" in bad.json()["error"]["fields"]
    many = client.put("/api/v1/me/emergency-contacts/",
                      {"contacts": [{"email": f"p{i}@x.jp"} for i in range(6)]}, format="json")
    assert many.status_code == 400


def test_contacts_query_count(saga):
    client = saga.client("resident")
    client.get("/api/v1/me/emergency-contacts/")
    with assert_num_queries(3):  # search_path, token, contacts
        client.get("/api/v1/me/emergency-contacts/")


def test_family_is_emailed_once_when_the_resident_checks_in(saga, flood, saga_shelters, eager_celery,
                                                           django_capture_on_commit_callbacks):
    client = saga.client("resident")
    with django_capture_on_commit_callbacks(execute=True):
        client.put("/api/v1/me/emergency-contacts/", {"contacts": [{"email": "son@example.jp", "name": "息子"},
                                                                   {"email": "friend@example.jp"}]}, format="json")
    confirm = [re.search(r"/contacts/confirm/(\S+)/", m.body).group(1) for m in mail.outbox]
    saga.client().get(f"/contacts/confirm/{confirm[0]}/")  # only the son confirmed
    mail.outbox.clear()

    with saga.schema(), django_capture_on_commit_callbacks(execute=True):
        result = shelter_check_in(shelter=saga_shelters[0], acting_user=saga.staff["shelter_staff"],
                                  evacuees=[Evacuee(name="佐賀 一郎", resident_id=saga.resident.pk, source="qr",
                                                    citizen_ref="ref-1")])
    assert len(mail.outbox) == 1
    notice = mail.outbox[0]
    assert notice.to == ["son@example.jp"] and "避難完了のお知らせ" in notice.subject
    assert "佐賀 一郎" in notice.body and saga_shelters[0].name in notice.body

    from shelters.tasks import send_family_notices

    with saga.schema():
        assert send_family_notices.apply(args=[[result.check_ins[0].pk]]).get() == 0  # redelivered: nothing twice
        assert FamilyNotice.objects.filter(sent_at__isnull=False).count() == 1
    assert len(mail.outbox) == 1


# --- CAP alerts --------------------------------------------------------------------------------
def test_cap_alert_is_stored_and_listed_for_its_district(saga, django_capture_on_commit_callbacks):
    with saga.schema():
        kase = district_create(name="嘉瀬", kana="かせ")
    client = saga.client("disaster_staff")
    with django_capture_on_commit_callbacks(execute=False):
        response = post_cap(client, cap())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["event"] == "洪水警報" and body["district_ids"] == [kase.pk] and body["severity"] == "Severe"
    active = saga.client().get("/api/v1/alerts/active/").json()
    assert [a["identifier"] for a in active] == ["saga-2026-0001"]


def test_same_identifier_twice_pushes_once(saga, django_capture_on_commit_callbacks):
    client = saga.client("disaster_staff")
    with django_capture_on_commit_callbacks() as first_callbacks:
        assert post_cap(client, cap()).status_code == 201
    with django_capture_on_commit_callbacks() as second_callbacks:
        assert post_cap(client, cap()).status_code == 200
    # The first schedules a push (and a cache drop); the repeat schedules nothing.
    assert len(first_callbacks) == 2 and len(second_callbacks) == 0
    with saga.schema():
        assert Alert.objects.count() == 1


def test_update_and_cancel_withdraw_the_referenced_alert(saga, django_capture_on_commit_callbacks):
    client = saga.client("disaster_staff")
    with django_capture_on_commit_callbacks(execute=True):
        post_cap(client, cap())
        update = post_cap(client, cap("saga-2026-0002", "Update",
                                      "bousai@city.saga.example,saga-2026-0001,2026-07-10T16:49:00+09:00",
                                      headline="【警戒レベル5】緊急安全確保"))
    assert update.status_code == 201
    active = saga.client().get("/api/v1/alerts/active/").json()
    assert [a["identifier"] for a in active] == ["saga-2026-0002"]
    with django_capture_on_commit_callbacks(execute=True):
        cancel = post_cap(client, cap("saga-2026-0003", "Cancel",
                                      "bousai@city.saga.example,saga-2026-0002,2026-07-10T16:49:00+09:00"))
    assert cancel.status_code == 201
    assert saga.client().get("/api/v1/alerts/active/").json() == []


@pytest.mark.parametrize("document, field", [
    (b"<alert>not cap</alert>", "alert"),
    (b"<<<", "alert"),
    (cap().replace(b"<status>Actual</status>", b"<status>Maybe</status>"), "status"),
    (cap().replace(b"<identifier>saga-2026-0001</identifier>", b""), "identifier"),
    (cap().replace(b"<urgency>Immediate</urgency>", b""), "info.urgency"),
    (cap().replace(b"+09:00</sent>", b"</sent>"), "sent"),
    (cap(msg_type="Update"), "references"),
])
def test_invalid_cap_is_400_listing_what_is_wrong(saga, document, field):
    response = post_cap(saga.client("disaster_staff"), document)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_cap" and field in error["fields"]


def test_cap_with_unknown_reference_and_wrong_content_type(saga):
    client = saga.client("disaster_staff")
    orphan = post_cap(client, cap("x-2", "Cancel", "a,unknown-id,2026-07-10T16:49:00+09:00"))
    assert orphan.status_code == 400 and orphan.json()["error"]["code"] == "unknown_cap_reference"
    wrong = post_cap(client, cap(), content_type="application/json")
    assert wrong.status_code == 415


def test_xml_entity_expansion_is_refused(saga):
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxxxx">]><alert>&x;</alert>'
    response = post_cap(saga.client("disaster_staff"), bomb)
    assert response.status_code == 400


def test_only_disaster_staff_post_alerts(saga):
    assert post_cap(saga.client("shelter_staff"), cap()).status_code == 403
    assert post_cap(saga.client("resident"), cap()).status_code == 403


def test_active_alerts_make_no_query_when_warm(saga):
    client = saga.client()
    client.get("/api/v1/alerts/active/")
    with assert_num_queries(0):
        client.get("/api/v1/alerts/active/")


def test_an_alert_for_a_district_becomes_one_disaster_push_to_that_district(saga):
    from accounts.services import resident_update_profile
    from notifications.models import Notification
    from shelters.tasks import push_alert

    with saga.schema():
        kase = district_create(name="嘉瀬", kana="かせ")
        resident_update_profile(user=saga.resident, district=kase)
    assert post_cap(saga.client("disaster_staff"), cap()).status_code == 201
    with saga.schema():
        alert = Alert.objects.get(identifier="saga-2026-0001")
        notification_id = push_alert.apply(args=[alert.pk]).get()  # what the worker runs after commit
        alert.refresh_from_db()
        notification = Notification.objects.get(pk=notification_id)
        assert alert.pushed_at is not None and alert.push_notification_id == notification.pk
        assert (notification.topic, notification.priority) == ("disaster", "high")
        assert notification.broadcast_districts == [kase.pk] and notification.title == "【警戒レベル4】避難指示"
        assert push_alert.apply(args=[alert.pk]).get() is None  # redelivered: nothing is pushed twice
        assert Notification.objects.filter(topic="disaster").count() == 1


def test_an_alert_for_a_district_without_residents_pushes_nothing(saga):
    from notifications.models import Notification
    from shelters.tasks import push_alert

    with saga.schema():
        district_create(name="嘉瀬", kana="かせ")
    assert post_cap(saga.client("disaster_staff"), cap()).status_code == 201
    with saga.schema():
        alert = Alert.objects.get(identifier="saga-2026-0001")
        assert push_alert.apply(args=[alert.pk]).get() is None
        alert.refresh_from_db()
        assert alert.pushed_at is not None and alert.push_notification_id is None
        assert not Notification.objects.exists()
