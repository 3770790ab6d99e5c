"""Daily counts and class-closure alerts (学級閉鎖の検討): thresholds, quiet period, who is told,
the morning check, the nightly run and retention."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from django.conf import settings as django_settings

from accounts.models import AuditEvent
from miniapps.attendance import notify, tasks
from miniapps.attendance.models import AbsenceReport, DailyClassCount, OutbreakAlert
from miniapps.attendance.services import policy_update

from .conftest import JST, link


def _reason(world):
    with world.tenant.schema():
        return world.school.reasons.get(label="体調不良").pk


def _sick(world, students, symptoms=("influenza",), date_="2026-06-03", **extra):
    with world.tenant.schema():
        for student in students:
            if not student.guardian_links.filter(guardian=world.users["guardian"]).exists():
                link(world.users["guardian"], student)
    reason = _reason(world)
    for student in students:
        body = {"student": student.pk, "type": "absent", "reason": reason, "date": date_,
                "symptoms": list(symptoms), **extra}
        response = world.client("guardian").post("/api/v1/attendance/reports/", body, format="json")
        assert response.status_code == 201, response.content
    return response.json()


def _alerts(world):
    with world.tenant.schema():
        return list(OutbreakAlert.objects.order_by("id"))


def test_a_simulated_outbreak_raises_the_alert_to_the_principal(world):
    # 5 children in class 1組, threshold 20%, at least 2 children: the second flu absence raises it.
    _sick(world, world.students_a[:1])
    assert _alerts(world) == []
    _sick(world, world.students_a[1:2])
    (alert,) = _alerts(world)
    assert (alert.school_class_id, alert.date, alert.enrolled, alert.infection_absent) == \
        (world.class_a.pk, date(2026, 6, 3), 5, 2)
    assert alert.share_percent == 40.0 and alert.threshold_percent == 20 and alert.symptoms == {"influenza": 2}
    # The principal and nurse see it; the other class's teacher does not.
    for who in ("principal", "nurse", "board", "admin"):
        listed = world.client(who).get("/api/v1/staff/attendance/alerts/").json()["results"]
        assert [a["id"] for a in listed] == [alert.pk], who
    assert world.client("teacher_b").get("/api/v1/staff/attendance/alerts/").json()["results"] == []
    # The push goes to the principal and the nurse, in Japanese, naming the class and the review.
    with world.tenant.schema():
        pushes = notify.outbreak_alert_pushes(alert_id=alert.pk)
    assert sorted(uid for push in pushes for uid in push.user_ids) == sorted(
        [world.users["principal"].pk, world.users["nurse"].pk])
    (push,) = pushes
    assert push.urgent and "学級閉鎖の検討" in push.message.title and "1年1組" in push.message.title
    assert "5名中2名" in push.message.body and "インフルエンザ2名" in push.message.body
    with world.tenant.schema():
        assert AuditEvent.objects.filter(action="attendance.outbreak_alert", target_id=str(alert.pk)).exists()


def test_the_principal_acknowledges_the_alert(world):
    _sick(world, world.students_a[:2])
    (alert,) = _alerts(world)
    assert world.client("teacher_b").post(f"/api/v1/staff/attendance/alerts/{alert.pk}/acknowledge/").status_code \
        == 404
    response = world.client("principal").post(f"/api/v1/staff/attendance/alerts/{alert.pk}/acknowledge/")
    assert response.status_code == 200 and response.json()["acknowledged_at"]


def test_symptoms_that_are_not_infection_type_do_not_count(world):
    _sick(world, world.students_a[:3], symptoms=("headache",))
    assert _alerts(world) == []
    with world.tenant.schema():
        count = DailyClassCount.objects.get(school_class=world.class_a, date="2026-06-03")
    assert (count.absent, count.infection_absent, count.symptoms) == (3, 0, {"headache": 3})


def test_the_municipality_sets_the_threshold_and_minimum(world):
    with world.tenant.schema():
        policy_update(acting_user=world.tenant.admin, outbreak_threshold_percent=50, outbreak_min_absent=3)
    _sick(world, world.students_a[:2])  # 40%
    assert _alerts(world) == []
    _sick(world, world.students_a[2:3])  # 60%, three children
    assert len(_alerts(world)) == 1


def test_one_alert_per_class_within_the_quiet_period(world, clock):
    _sick(world, world.students_a[:3], date_="2026-06-03", end_date="2026-06-05")
    assert len(_alerts(world)) == 1
    # Next morning, a fourth child: the review is already under way (quiet 3 days by default).
    clock.move_to(datetime(2026, 6, 4, 7, 0, tzinfo=JST))
    _sick(world, world.students_a[3:4], date_="2026-06-04")
    assert len(_alerts(world)) == 1
    # The other class is separate.
    with world.tenant.schema():
        for student in world.students_b[:2]:
            link(world.users["guardian"], student)
    _sick(world, world.students_b[:2], date_="2026-06-04")
    assert {a.school_class_id for a in _alerts(world)} == {world.class_a.pk, world.class_b.pk}


def test_withdrawn_reports_do_not_count(world):
    report = _sick(world, world.students_a[:1])
    world.client("guardian").post(f"/api/v1/attendance/reports/{report['id']}/withdraw/")
    _sick(world, world.students_a[1:2])
    assert _alerts(world) == []


def test_the_morning_check_counts_absences_reported_on_earlier_days(world, clock):
    # Reported on Wednesday for Thursday and Friday: nobody reports on Friday morning.
    _sick(world, world.students_a[:2], date_="2026-06-04", end_date="2026-06-05")
    assert _alerts(world) == []  # raised only for "today", and today is the 3rd
    clock.move_to(datetime(2026, 6, 4, 9, 5, tzinfo=JST))
    with world.tenant.schema():
        assert tasks.evaluate_outbreaks() == 1
        assert tasks.evaluate_outbreaks() == 0  # idempotent
    assert [a.date for a in _alerts(world)] == [date(2026, 6, 4)]


def test_nightly_completes_counts_and_retention_keeps_aggregates(world, clock):
    _sick(world, world.students_a[:1], symptoms=("fever",))
    clock.move_to(datetime(2026, 6, 4, 0, 40, tzinfo=JST))
    with world.tenant.schema():
        result = tasks.nightly()
        assert result["classes"] == 2 and result["purged"] == 0
        # Both classes have a row for the 3rd, the one without reports too.
        rows = {row.school_class_id: row for row in DailyClassCount.objects.filter(date="2026-06-03")}
        assert rows[world.class_b.pk].enrolled == 5 and rows[world.class_b.pk].absent == 0
        assert rows[world.class_a.pk].absent == 1
    # FY2026 reports are kept through the end of FY2027 (default: one more fiscal year) ...
    clock.move_to(datetime(2028, 3, 31, 23, 0, tzinfo=JST))
    with world.tenant.schema():
        assert tasks.nightly()["purged"] == 0
    # ... and deleted from April 2028; the counts stay.
    clock.move_to(datetime(2028, 4, 1, 0, 40, tzinfo=JST))
    with world.tenant.schema():
        assert tasks.nightly()["purged"] == 1
        assert not AbsenceReport.objects.exists()
        assert DailyClassCount.objects.get(school_class=world.class_a, date="2026-06-03").absent == 1
        assert AuditEvent.objects.filter(action="attendance.reports_purged").exists()


def test_board_view_still_has_the_counts_after_retention(world, clock):
    _sick(world, world.students_a[:2])
    clock.move_to(datetime(2028, 4, 2, 1, 0, tzinfo=JST))
    with world.tenant.schema():
        policy_update(acting_user=None, retention_fiscal_years=0)
        tasks.nightly()
    world.reissue_tokens()
    body = world.client("board").get("/api/v1/staff/attendance/board/?date=2026-06-03").json()
    assert body["totals"]["absent"] == 2 and body["totals"]["infection_absent"] == 2


def test_beat_runs_the_checks_in_every_municipality():
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    entries = {entry["args"][0]: entry for entry in schedule.values() if entry["task"] == "tenants.tasks.fan_out"}
    assert "attendance.tasks.evaluate_outbreaks" in entries and "attendance.tasks.nightly" in entries


def test_policy_rejects_unknown_symptoms(world):
    from superapp.api.errors import ApiError

    with world.tenant.schema(), pytest.raises(ApiError) as caught:
        policy_update(acting_user=None, infection_symptoms=["fever", "zombie"])
    assert "infection_symptoms" in caught.value.fields
