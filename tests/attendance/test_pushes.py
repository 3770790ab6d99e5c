"""The three attendance pushes end to end: the API or console acts, the task runs (Celery eager, in the
municipality's schema), `notification_send_system` hands it to the notifications pipeline, and
firebase-admin delivers it to the fake FCM server. Asserted on the server's log and on inboxes:
exactly the right people, once, and a repeated task sends nothing new."""
from __future__ import annotations

from collections import Counter

import pytest

from accounts.models import User
from miniapps.attendance import tasks
from miniapps.attendance.models import OutbreakAlert
from notifications.models import Notification, SystemSendKey
from superapp.celery import app as celery_app
from tests.notifications.conftest import _fake_fcm_server, fake_fcm  # noqa: F401  (fixtures)
from tests.notifications.helpers import register

from .conftest import link

PEOPLE = ("guardian", "guardian_b", "stranger", "teacher_a", "teacher_b", "principal", "nurse", "board")


@pytest.fixture
def eager():
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = True, True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def phones(world, fake_fcm):  # noqa: F811
    """Everyone in the school world registers a phone (staff too) through the devices API."""
    for who in PEOPLE:
        register(world.client(who), f"att-phone-{who}")
    return {f"att-phone-{who}": who for who in PEOPLE}


def _school_pushes(fake_fcm, phones) -> Counter:  # noqa: F811
    """(who, title) for every school-topic message the fake FCM server accepted."""
    return Counter((phones[line["token"]], line["title"]) for line in fake_fcm.log()
                   if line["data"].get("topic") == "school" and line["token"] in phones)


def _inbox(world, who) -> list[str]:
    return [item["title"] for item in world.client(who).get("/api/v1/inbox/").json()["results"]]


def _school_notifications(world) -> int:
    with world.tenant.schema():
        return Notification.objects.filter(topic="school").count()


def _report(world, student, **extra):
    with world.tenant.schema():
        reason = world.school.reasons.get(label="体調不良").pk
    body = {"student": student.pk, "type": "absent", "reason": reason, "date": "2026-06-03", **extra}
    response = world.client("guardian").post("/api/v1/attendance/reports/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_report_seen_reaches_the_childs_guardians_in_their_language(world, phones, fake_fcm, eager,  # noqa: F811
                                                                    django_capture_on_commit_callbacks):
    with world.tenant.schema():
        link(world.users["guardian_b"], world.students_a[0])  # a second guardian of the same child
        User.objects.filter(pk=world.users["guardian_b"].pk).update(language="en")
    report = _report(world, world.students_a[0])
    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        response = world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{report['id']}/seen/")
    assert response.status_code == 200, response.content
    ja, en = f"{world.school.name}より確認のお知らせ", f"{world.school.name}: report seen"
    assert _school_pushes(fake_fcm, phones) == Counter({("guardian", ja): 1, ("guardian_b", en): 1})
    assert _inbox(world, "guardian") == [ja] and _inbox(world, "guardian_b") == [en]
    for who in ("stranger", "teacher_a", "principal"):
        assert _inbox(world, who) == [], who
    (line,) = [line for line in fake_fcm.log() if line["token"] == "att-phone-guardian"]
    assert line["data"]["report"] == str(report["id"])
    assert line["data"]["deep_link"] == f"superapp://attendance/reports/{report['id']}"
    assert world.client("guardian").get(f"/api/v1/attendance/reports/{report['id']}/").json()["status"] == "seen"

    # The task again (a redelivered message): the keys are taken, nothing new is sent.
    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        assert tasks.notify_report_seen([report["id"]]) == 0
        assert set(SystemSendKey.objects.values_list("key", flat=True)) == {
            f"attendance-seen-{report['id']}-ja", f"attendance-seen-{report['id']}-en"}
    assert _school_notifications(world) == 2
    assert sum(_school_pushes(fake_fcm, phones).values()) == 2


def test_muted_guardians_and_schools_that_turned_it_off_get_no_seen_push(world, phones, fake_fcm, eager,  # noqa: F811
                                                                         django_capture_on_commit_callbacks):
    from miniapps.attendance.models import School
    from miniapps.attendance.services import school_update

    from .test_console import _console

    # Muted: marked seen through the API, nothing is sent.
    muted = _report(world, world.students_a[0])
    assert world.client("guardian").put("/api/v1/me/notification-settings/", {"muted_topics": ["school"]},
                                        format="json").status_code == 200
    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        assert world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{muted['id']}/seen/").status_code == 200
    assert _school_pushes(fake_fcm, phones) == Counter() and _school_notifications(world) == 0
    # Unmuted: marked seen from the console's morning list, the guardian hears it.
    world.client("guardian").put("/api/v1/me/notification-settings/", {"muted_topics": []}, format="json")
    heard = _report(world, world.students_a[0], date="2026-06-04")
    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        assert _console(world, "teacher_a").post(f"/console/attendance/reports/{heard['id']}/seen/").status_code == 302
    title = f"{world.school.name}より確認のお知らせ"
    assert _school_pushes(fake_fcm, phones) == Counter({("guardian", title): 1})
    # The school turned seen notices off: nothing more.
    with world.tenant.schema():
        school_update(school=School.objects.get(pk=world.school.pk), acting_user=None, notify_guardian_on_seen=False)
    off = _report(world, world.students_a[0], date="2026-06-05")
    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        assert _console(world, "teacher_a").post(f"/console/attendance/reports/{off['id']}/seen/").status_code == 302
    assert _school_pushes(fake_fcm, phones) == Counter({("guardian", title): 1})
    assert _inbox(world, "guardian") == [title] and _school_notifications(world) == 1


def test_an_outbreak_alerts_the_principal_and_the_nurse(world, phones, fake_fcm, eager,  # noqa: F811
                                                        django_capture_on_commit_callbacks):
    with world.tenant.schema():
        for student in world.students_a[1:2]:
            link(world.users["guardian"], student)
    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        for student in world.students_a[:2]:  # 2 of 5 with influenza: 40% ≥ 20%
            _report(world, student, symptoms=["influenza"])
    with world.tenant.schema():
        (alert,) = OutbreakAlert.objects.all()
    pushes = _school_pushes(fake_fcm, phones)
    assert set(who for who, _ in pushes) == {"principal", "nurse"} and sum(pushes.values()) == 2
    (title,) = {title for _, title in pushes}
    assert "学級閉鎖の検討" in title and "1年1組" in title
    (line,) = [line for line in fake_fcm.log() if line["token"] == "att-phone-principal"]
    assert line["data"]["alert"] == str(alert.pk) and line["data"]["deep_link"] == f"/console/attendance/alerts/{alert.pk}/"
    assert _inbox(world, "principal") == [title] and _inbox(world, "nurse") == [title]
    for who in ("teacher_a", "teacher_b", "board", "guardian", "stranger"):
        assert _inbox(world, who) == [], who
    with world.tenant.schema():
        assert Notification.objects.get(topic="school").priority == "high"

    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        assert tasks.notify_outbreak_alert(alert.pk) == 0
    assert _school_notifications(world) == 1 and sum(_school_pushes(fake_fcm, phones).values()) == 2


@pytest.mark.parametrize("target,reaches", [("class_a", {"guardian"}), ("grade", {"guardian", "guardian_b"})])
def test_an_announcement_reaches_the_targeted_guardians(world, phones, fake_fcm, eager, target, reaches,  # noqa: F811
                                                        django_capture_on_commit_callbacks):
    body = {"school": world.school.pk, "title": "学級閉鎖のお知らせ", "body": "明日から3日間、学級閉鎖とします。"}
    if target == "class_a":
        body["school_class"] = world.class_a.pk
    else:
        body["grade"] = 1
    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        response = world.client("principal").post("/api/v1/staff/attendance/announcements/", body, format="json")
    assert response.status_code == 201, response.content
    title = f"{world.school.name}: 学級閉鎖のお知らせ"
    assert _school_pushes(fake_fcm, phones) == Counter({(who, title): 1 for who in reaches})
    for who in PEOPLE:
        assert _inbox(world, who) == ([title] if who in reaches else []), who

    with world.tenant.schema(), django_capture_on_commit_callbacks(execute=True):
        assert tasks.notify_announcement(response.json()["id"]) == 0
    assert _school_notifications(world) == 1 and sum(_school_pushes(fake_fcm, phones).values()) == len(reaches)
