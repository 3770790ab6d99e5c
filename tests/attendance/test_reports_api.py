"""Guardians' reports: fields, validation, the school's cut-off in Asia/Tokyo, withdrawal, who may report."""
from __future__ import annotations

from datetime import datetime

import pytest

from miniapps.attendance.models import AbsenceReport, DailyClassCount, School
from miniapps.attendance.services import school_update
from tests.base import assert_num_queries

from .conftest import JST


def _reason(world, label="体調不良"):
    with world.tenant.schema():
        return world.school.reasons.get(label=label).pk


def _report(world, who="guardian", student=None, **fields):
    body = {"student": (student or world.students_a[0]).pk, "type": "absent", "reason": _reason(world),
            "date": "2026-06-03"}
    body.update(fields)
    return world.client(who).post("/api/v1/attendance/reports/", body, format="json")


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "message_en", "fields"}, body
    assert body["error"]["code"] == code, body
    return body["error"]


def test_absence_with_fever_has_every_field(world):
    response = _report(world, symptoms=["fever", "cough", "fever"], temperature=38.25, note="  朝から38度あります ")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "absent" and body["status"] == "pending" and body["can_withdraw"] is True
    assert body["symptoms"] == ["fever", "cough"]  # duplicates dropped, order kept
    assert body["temperature"] == 38.2 or body["temperature"] == 38.3
    assert body["reason"]["label"] == "体調不良" and body["reason"]["label_en"] == "Feeling unwell"
    assert body["date"] == body["end_date"] == "2026-06-03"
    assert body["note"] == "朝から38度あります"
    assert body["school_class"]["display_name"] == "1年1組"
    with world.tenant.schema():
        count = DailyClassCount.objects.get(school_class=world.class_a, date="2026-06-03")
        assert (count.enrolled, count.absent, count.infection_absent, count.symptoms) == (5, 1, 1, {"fever": 1, "cough": 1})


def test_late_and_early_leave_carry_an_expected_time(world):
    late = _report(world, type="late", reason=_reason(world, "通院"), expected_time="10:30")
    assert late.status_code == 201, late.content
    assert late.json()["expected_time"] == "10:30"
    early = _report(world, type="early_leave", reason=_reason(world, "通院"), expected_time="13:00")
    assert early.status_code == 201, early.content
    other = _report(world, type="other", reason=_reason(world, "その他"), note="体操服を忘れました")
    assert other.status_code == 201


def test_multi_day_absence(world):
    response = _report(world, date="2026-06-04", end_date="2026-06-08", symptoms=["influenza"])
    assert response.status_code == 201, response.content
    assert (response.json()["date"], response.json()["end_date"]) == ("2026-06-04", "2026-06-08")
    with world.tenant.schema():
        days = sorted(str(d) for d in DailyClassCount.objects.filter(school_class=world.class_a, absent=1)
                      .values_list("date", flat=True))
    assert days == ["2026-06-04", "2026-06-05", "2026-06-06", "2026-06-07", "2026-06-08"]
    for day in ("2026-06-04", "2026-06-08"):
        listed = world.client("teacher_a").get(f"/api/v1/staff/attendance/classes/{world.class_a.pk}/?date={day}")
        assert listed.json()["counts"]["absent"] == 1
    assert world.client("teacher_a").get(
        f"/api/v1/staff/attendance/classes/{world.class_a.pk}/?date=2026-06-09").json()["counts"]["absent"] == 0


@pytest.mark.parametrize("temperature", [33.9, 42.6, 0, -1, 100, "abc", "nan", "inf"])
def test_temperature_outside_34_to_42_5_is_400(world, temperature):
    error = _error(_report(world, temperature=temperature), 400, "validation_error")
    assert "temperature" in error["fields"]


@pytest.mark.parametrize("temperature", [34.0, 42.5, "36.8"])
def test_temperature_bounds_are_inclusive(world, temperature):
    assert _report(world, temperature=temperature).status_code == 201


@pytest.mark.parametrize("fields,bad_field", [
    ({"date": "2026-05-26"}, "date"),  # 8 days ago; the default allowance is 7
    ({"date": "2026-08-03"}, "date"),  # beyond 60 days ahead
    ({"date": "2026-06-05", "end_date": "2026-06-04"}, "end_date"),
    ({"date": "2026-06-04", "end_date": "2026-07-10"}, "end_date"),  # longer than 31 days
    ({"type": "late", "date": "2026-06-04", "end_date": "2026-06-05"}, "end_date"),
    ({"type": "absent", "expected_time": "10:00"}, "expected_time"),
    ({"symptoms": ["sneezing"]}, "symptoms"),
    ({"type": "tardy"}, "type"),
    ({"date": "03/06/2026"}, "date"),
    ({"note": "あ" * 501}, "note"),
    ({"note": 5}, "note"),
    ({"reason": "体調不良"}, "reason"),
    ({"reason": 10**30}, "reason"),
])
def test_bad_input_is_400_with_the_field(world, fields, bad_field):
    response = _report(world, **fields)
    error = _error(response, 400, "validation_error")
    assert any(name == bad_field or name.startswith(bad_field + ".") for name in error["fields"]), error


def test_past_day_within_the_allowance_is_accepted_and_school_sets_the_allowance(world):
    assert _report(world, date="2026-05-27").status_code == 201  # 7 days ago
    with world.tenant.schema():
        school_update(school=School.objects.get(pk=world.school.pk), acting_user=None, past_days_allowed=0)
    error = _error(_report(world, date="2026-06-02", student=world.students_a[0]), 400, "validation_error")
    assert "date" in error["fields"]


def test_reason_of_another_school_is_400(world, saga):
    from .conftest import build_school

    other = build_school(saga, code="S002")
    error = _error(_report(world, reason=_reason(other)), 400, "validation_error")
    assert "reason" in error["fields"]


# --- Cut-off (Asia/Tokyo) -----------------------------------------------------------------------
def test_same_day_report_before_the_cut_off_is_accepted(world, clock):
    clock.move_to(datetime(2026, 6, 3, 8, 14, 59, tzinfo=JST))
    assert _report(world).status_code == 201


def test_same_day_report_at_or_after_the_cut_off_is_refused_with_the_schools_message(world, clock):
    with world.tenant.schema():
        school_update(school=School.objects.get(pk=world.school.pk), acting_user=None, phone="0952-00-0000",
                      cutoff_message="8時15分を過ぎたら学校（0952-00-0000）へお電話ください。",
                      cutoff_message_en="After 8:15 please phone the school on 0952-00-0000.")
    clock.move_to(datetime(2026, 6, 3, 8, 15, 0, tzinfo=JST))
    error = _error(_report(world), 400, "attendance_after_cutoff")
    assert error["message"] == "8時15分を過ぎたら学校（0952-00-0000）へお電話ください。"
    assert error["message_en"] == "After 8:15 please phone the school on 0952-00-0000."
    assert error["fields"]["cutoff_time"] == ["08:15"] and error["fields"]["phone"] == ["0952-00-0000"]
    with world.tenant.schema():
        assert not AbsenceReport.objects.exists()


def test_default_cut_off_message_names_the_time_and_school(world, clock):
    clock.move_to(datetime(2026, 6, 3, 9, 0, tzinfo=JST))
    error = _error(_report(world), 400, "attendance_after_cutoff")
    assert "8:15" in error["message"] or "08:15" in error["message"]
    assert "saga第一小学校" in error["message"]


def test_after_the_cut_off_tomorrow_is_still_open(world, clock):
    clock.move_to(datetime(2026, 6, 3, 23, 59, tzinfo=JST))
    assert _report(world, date="2026-06-04").status_code == 201


def test_the_day_turns_at_midnight_tokyo_time_not_utc(world, clock):
    # 2026-06-03 15:30 UTC is already 00:30 on the 4th in Tokyo: a report for the 4th is same-day
    # and open (before 08:15), a report for the 3rd is a past day.
    clock.move_to(datetime(2026, 6, 4, 0, 30, tzinfo=JST))
    assert _report(world, date="2026-06-04").status_code == 201
    clock.move_to(datetime(2026, 6, 4, 8, 15, tzinfo=JST))
    assert _error(_report(world, date="2026-06-04", type="late", reason=_reason(world, "通院")), 400,
                  "attendance_after_cutoff")


def test_a_range_that_covers_today_after_the_cut_off_is_refused_but_one_starting_tomorrow_is_not(world, clock):
    clock.move_to(datetime(2026, 6, 3, 10, 0, tzinfo=JST))
    _error(_report(world, date="2026-06-02", end_date="2026-06-05"), 400, "attendance_after_cutoff")
    assert _report(world, date="2026-06-04", end_date="2026-06-05").status_code == 201


def test_each_school_has_its_own_cut_off(world, clock):
    with world.tenant.schema():
        school_update(school=School.objects.get(pk=world.school.pk), acting_user=None,
                      cutoff_time=datetime(2026, 1, 1, 7, 50).time())
    clock.move_to(datetime(2026, 6, 3, 7, 55, tzinfo=JST))
    _error(_report(world), 400, "attendance_after_cutoff")


# --- Withdrawal ---------------------------------------------------------------------------------
def test_guardian_withdraws_before_the_cut_off(world, clock):
    report = _report(world, symptoms=["fever"]).json()
    clock.move_to(datetime(2026, 6, 3, 8, 14, tzinfo=JST))
    response = world.client("guardian").post(f"/api/v1/attendance/reports/{report['id']}/withdraw/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "withdrawn" and response.json()["can_withdraw"] is False
    # Twice is the same as once.
    assert world.client("guardian").post(f"/api/v1/attendance/reports/{report['id']}/withdraw/").status_code == 200
    listed = world.client("teacher_a").get(f"/api/v1/staff/attendance/classes/{world.class_a.pk}/").json()
    assert listed["counts"]["absent"] == 0
    assert all(not entry["reports"] for entry in listed["students"])
    with world.tenant.schema():
        assert DailyClassCount.objects.get(school_class=world.class_a, date="2026-06-03").absent == 0
    # Withdrawn, the day is free for a new report.
    assert _report(world).status_code == 201


def test_withdrawal_after_the_cut_off_is_refused(world, clock):
    report = _report(world).json()
    clock.move_to(datetime(2026, 6, 3, 8, 15, tzinfo=JST))
    error = _error(world.client("guardian").post(f"/api/v1/attendance/reports/{report['id']}/withdraw/"), 409,
                   "attendance_withdraw_closed")
    assert "電話" in error["message"]
    assert world.client("guardian").get(f"/api/v1/attendance/reports/{report['id']}/").json()["can_withdraw"] is False


def test_future_report_can_be_withdrawn_until_its_own_days_cut_off(world, clock):
    report = _report(world, date="2026-06-05").json()
    clock.move_to(datetime(2026, 6, 5, 8, 0, tzinfo=JST))
    assert world.client("guardian").post(f"/api/v1/attendance/reports/{report['id']}/withdraw/").status_code == 200


# --- Who may report -----------------------------------------------------------------------------
def test_a_guardian_not_linked_to_the_child_gets_404(world):
    _error(_report(world, who="guardian", student=world.students_b[0]), 404, "not_found")
    _error(_report(world, who="stranger"), 404, "not_found")
    _error(_report(world, who="guardian", student=world.students_a[1]), 404, "not_found")


def test_missing_student_and_foreign_student_get_the_same_404(world):
    missing = _report(world, student=type("S", (), {"pk": 999999})())
    foreign = _report(world, student=world.students_b[0])
    assert missing.status_code == foreign.status_code == 404
    assert missing.json() == foreign.json()


@pytest.mark.parametrize("who,status", [(None, 401), ("teacher_a", 403), ("admin", 403), ("principal", 403)])
def test_only_residents_report(world, who, status):
    assert _report(world, who=who).status_code == status


def test_a_child_with_two_guardians(world):
    from .conftest import link

    with world.tenant.schema():
        link(world.users["guardian_b"], world.students_a[0])
    first = _report(world, who="guardian").json()
    # The second guardian sees the report and cannot file a clashing one.
    assert world.client("guardian_b").get(f"/api/v1/attendance/reports/{first['id']}/").status_code == 200
    error = _error(_report(world, who="guardian_b"), 409, "attendance_report_overlaps")
    assert error["fields"]["report"] == [str(first["id"])]
    # "other" never clashes; early leave clashes with an absence on the same day.
    assert _report(world, who="guardian_b", type="other", reason=_reason(world, "その他")).status_code == 201
    _error(_report(world, who="guardian_b", type="early_leave", reason=_reason(world, "通院")), 409,
           "attendance_report_overlaps")


def test_late_and_early_leave_on_one_day_are_both_allowed(world):
    assert _report(world, type="late", reason=_reason(world, "通院")).status_code == 201
    assert _report(world, type="early_leave", reason=_reason(world, "通院")).status_code == 201
    _error(_report(world, type="late", reason=_reason(world, "通院")), 409, "attendance_report_overlaps")


def test_a_child_not_enrolled_for_that_school_year_is_400(world, clock):
    # June 2026 is fiscal 2026; April 2027 would be fiscal 2027, for which no roster was imported yet.
    clock.move_to(datetime(2027, 3, 30, 7, 0, tzinfo=JST))
    _error(_report(world, date="2027-04-02"), 400, "attendance_not_enrolled")
    error = _error(_report(world, date="2027-03-31", end_date="2027-04-01"), 400, "validation_error")
    assert "end_date" in error["fields"]


# --- Reading -------------------------------------------------------------------------------------
def test_guardian_lists_reports_and_sees_pending_then_seen(world):
    first = _report(world).json()
    _report(world, date="2026-06-10")
    listed = world.client("guardian").get("/api/v1/attendance/reports/").json()
    assert listed["count"] == 2 and [r["date"] for r in listed["results"]] == ["2026-06-10", "2026-06-03"]
    assert world.client("guardian_b").get("/api/v1/attendance/reports/").json()["count"] == 0
    world.client("teacher_a").post(f"/api/v1/staff/attendance/reports/{first['id']}/seen/")
    detail = world.client("guardian").get(f"/api/v1/attendance/reports/{first['id']}/").json()
    assert detail["status"] == "seen" and detail["seen_at"]


def test_another_guardians_report_is_404(world):
    report = _report(world).json()
    _error(world.client("guardian_b").get(f"/api/v1/attendance/reports/{report['id']}/"), 404, "not_found")
    _error(world.client("guardian_b").post(f"/api/v1/attendance/reports/{report['id']}/withdraw/"), 404, "not_found")


def test_report_list_filters_by_child_and_rejects_bad_ids(world):
    _report(world)
    client = world.client("guardian")
    assert client.get(f"/api/v1/attendance/reports/?student={world.students_a[0].pk}").json()["count"] == 1
    assert client.get(f"/api/v1/attendance/reports/?student={world.students_b[0].pk}").json()["count"] == 0
    _error(client.get("/api/v1/attendance/reports/?student=abc"), 400, "validation_error")
    _error(client.get("/api/v1/attendance/reports/99999999999999999999/"), 404, "not_found")


def test_options_lists_types_and_symptoms_in_both_languages(world):
    body = world.client("guardian").get("/api/v1/attendance/options/").json()
    assert {"code": "absent", "label": "欠席", "label_en": "Absent"} in body["types"]
    assert {"code": "influenza", "label": "インフルエンザ", "label_en": "Influenza"} in body["symptoms"]
    assert (body["temperature_min"], body["temperature_max"]) == (34.0, 42.5)


def test_report_create_query_count_is_constant(world):
    client = world.client("guardian")
    client.get("/api/v1/attendance/options/")  # first use of the token records last_used_at
    body = {"student": world.students_a[0].pk, "type": "absent", "reason": _reason(world), "date": "2026-06-03",
            "symptoms": ["fever"], "temperature": 38.0}
    # search_path, token, savepoint, the child's enrollment with its school and class (class locked),
    # reason, overlap, insert, policy, counts upsert, release
    with assert_num_queries(10):
        assert client.post("/api/v1/attendance/reports/", body, format="json").status_code == 201
    body.update(date="2026-06-04", end_date="2026-06-12")  # nine days: still one counts statement
    with assert_num_queries(10):
        assert client.post("/api/v1/attendance/reports/", body, format="json").status_code == 201


def test_children_and_report_list_query_counts(world):
    from .conftest import link

    client = world.client("guardian")
    client.get("/api/v1/attendance/options/")
    with assert_num_queries(5):  # search_path, token, children, their schools' reasons, enrollments
        assert len(client.get("/api/v1/attendance/children/").json()) == 1
    with world.tenant.schema():
        for student in world.students_a[1:4] + world.students_b[1:3]:
            link(world.users["guardian"], student)
    with assert_num_queries(5):
        assert len(client.get("/api/v1/attendance/children/").json()) == 6
    _report(world)
    _report(world, student=world.students_b[1])
    with assert_num_queries(4):
        assert client.get("/api/v1/attendance/reports/").json()["count"] == 2


@pytest.mark.parametrize("query", ["page_size=null", "page_size=0", "page_size=-3"])
def test_bad_page_size_is_400(world, query):
    for path in ("/api/v1/attendance/reports/", "/api/v1/attendance/announcements/"):
        _error(world.client("guardian").get(f"{path}?{query}"), 400, "validation_error")
