"""What guardians are told: a push when the school has seen their report (optional per school),
and announcements to a class, a grade or the school."""
from __future__ import annotations

import pytest

from accounts.models import User
from miniapps.attendance import notify
from miniapps.attendance.models import Announcement, School
from miniapps.attendance.services import school_update
from tests.base import assert_num_queries

from .conftest import link


def _report(world, student=None, who="guardian"):
    with world.tenant.schema():
        reason = world.school.reasons.get(label="体調不良").pk
    body = {"student": (student or world.students_a[0]).pk, "type": "absent", "reason": reason, "date": "2026-06-04"}
    response = world.client(who).post("/api/v1/attendance/reports/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_guardians_are_told_in_their_language_when_the_school_has_seen_it(world, django_capture_on_commit_callbacks,
                                                                          eager_tasks):
    with world.tenant.schema():
        link(world.users["guardian_b"], world.students_a[0])
        User.objects.filter(pk=world.users["guardian_b"].pk).update(language="en")
    report = _report(world)
    with world.tenant.schema():
        pushes = notify.report_seen_pushes(report_ids=[report["id"]])
    by_language = {push.key.rsplit("-", 1)[1]: push for push in pushes}
    assert by_language["ja"].user_ids == [world.users["guardian"].pk]
    assert by_language["en"].user_ids == [world.users["guardian_b"].pk]
    assert "児童1号さんの連絡（6/4(木) 欠席（体調不良））を学校が確認しました" in by_language["ja"].message.body
    assert "Jun 4 Absent (Feeling unwell)" in by_language["en"].message.body
    assert by_language["ja"].message.deep_link.endswith(f"/attendance/reports/{report['id']}")
    # Marking seen sends the task on commit (run here in-process, in the municipality's schema as
    # in a request), once however often it is clicked.
    with world.tenant.schema():
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{report['id']}/seen/")
        assert len(callbacks) == 3  # the notify task, then its notifications' dispatch (one per language)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{report['id']}/seen/")
        assert callbacks == []


def test_a_school_can_turn_seen_notices_off(world):
    report = _report(world)
    with world.tenant.schema():
        school_update(school=School.objects.get(pk=world.school.pk), acting_user=None, notify_guardian_on_seen=False)
        assert notify.report_seen_pushes(report_ids=[report["id"]]) == []


@pytest.mark.parametrize("target,reaches", [("class_a", {"guardian"}), ("class_b", {"guardian_b"}),
                                            ("grade", {"guardian", "guardian_b"}), ("school", {"guardian", "guardian_b"})])
def test_announcements_reach_guardians_of_the_class_grade_or_school(world, target, reaches):
    body = {"school": world.school.pk, "title": "学級閉鎖のお知らせ", "body": "明日から3日間、学級閉鎖とします。"}
    if target.startswith("class"):
        body["school_class"] = getattr(world, target).pk
    elif target == "grade":
        body["grade"] = 1
    response = world.client("principal").post("/api/v1/staff/attendance/announcements/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["recipient_count"] == len(reaches)
    for who in ("guardian", "guardian_b", "stranger"):
        titles = [a["title"] for a in world.client(who).get("/api/v1/attendance/announcements/").json()["results"]]
        assert (titles == ["学級閉鎖のお知らせ"]) == (who in reaches), who
    with world.tenant.schema():
        (push,) = notify.announcement_pushes(announcement_id=response.json()["id"])
    assert {world.users[who].pk for who in reaches} == set(push.user_ids)


def test_who_may_announce(world):
    to_class_a = {"school": world.school.pk, "school_class": world.class_a.pk, "title": "持ち物", "body": "水筒"}
    assert world.client("teacher_a").post("/api/v1/staff/attendance/announcements/", to_class_a,
                                          format="json").status_code == 201
    assert world.client("teacher_b").post("/api/v1/staff/attendance/announcements/", to_class_a,
                                          format="json").status_code == 404
    whole = {"school": world.school.pk, "title": "運動会", "body": "延期します"}
    assert world.client("teacher_a").post("/api/v1/staff/attendance/announcements/", whole,
                                          format="json").status_code == 404
    assert world.client("guardian").post("/api/v1/staff/attendance/announcements/", whole,
                                         format="json").status_code == 403
    bad = world.client("principal").post("/api/v1/staff/attendance/announcements/",
                                         {**whole, "grade": 6, "school_class": world.class_a.pk}, format="json")
    assert bad.status_code == 400 and "grade" in bad.json()["error"]["fields"]
    blank = world.client("principal").post("/api/v1/staff/attendance/announcements/", {**whole, "title": "  "},
                                           format="json")
    assert blank.status_code == 400
    with world.tenant.schema():
        assert Announcement.objects.count() == 1


def test_announcement_list_query_count(world):
    client = world.client("guardian")
    client.get("/api/v1/attendance/options/")
    for title in ("一", "二", "三"):
        world.client("principal").post("/api/v1/staff/attendance/announcements/",
                                       {"school": world.school.pk, "title": title, "body": "本文"}, format="json")
    with assert_num_queries(4):  # search_path, token, count, page
        assert client.get("/api/v1/attendance/announcements/").json()["count"] == 3
