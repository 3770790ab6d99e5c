"""Reads for attendance, each scoped to the person asking.

Guardians reach only children linked to them; teachers only their homeroom classes; a school's
principal, vice principal and nurse their whole school; board-of-education staff every school's
counts (no names); municipality admins everything. `access_*` helpers answer the same 404 for
"does not exist" and "not yours".
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from accounts.models import User
from accounts.roles import Role
from accounts.selectors import user_has_role, user_role_names

from .aggregates import COUNT_FIELDS, sum_counts
from .calendar import fiscal_year_of, today_local
from .constants import ReportStatus, ReportType
from .models import (
    AbsenceReason,
    AbsenceReport,
    Announcement,
    AttendancePolicy,
    DailyClassCount,
    Enrollment,
    GuardianLink,
    OutbreakAlert,
    School,
    SchoolClass,
    StaffAssignment,
    Student,
)

ACTIVE_STATUSES = (ReportStatus.PENDING, ReportStatus.SEEN)


def policy_get() -> AttendancePolicy:
    policy, _ = AttendancePolicy.objects.get_or_create(pk=1)
    return policy


# --- Staff scope --------------------------------------------------------------------------------
@dataclass(frozen=True)
class StaffScope:
    user: User
    is_admin: bool
    is_board: bool
    school_ids: frozenset[int]  # schools seen whole (principal, vice principal, nurse)
    alerted_school_ids: frozenset[int]  # schools whose outbreak alerts this person receives

    @property
    def sees_every_school(self) -> bool:
        return self.is_admin

    @property
    def sees_counts_of_every_school(self) -> bool:
        return self.is_admin or self.is_board

    def sees_school(self, school_id: int) -> bool:
        return self.is_admin or school_id in self.school_ids


def staff_scope(user: User) -> StaffScope:
    """What a staff member may see in attendance; memoised on the user object for the request."""
    cached = getattr(user, "_attendance_scope", None)
    if cached is not None:
        return cached
    is_admin = Role.MUNICIPALITY_ADMIN in user_role_names(user)
    rows = list(StaffAssignment.objects.filter(user=user).values_list("school_id", "position")) \
        if user.is_authenticated and getattr(user, "kind", None) == User.Kind.STAFF else []
    scope = StaffScope(
        user=user,
        is_admin=is_admin,
        is_board=any(position == StaffAssignment.Position.BOARD for _, position in rows),
        school_ids=frozenset(school for school, position in rows if position in StaffAssignment.SCHOOL_WIDE),
        alerted_school_ids=frozenset(school for school, position in rows if position in StaffAssignment.ALERTED),
    )
    user._attendance_scope = scope
    return scope


BOARD_FLAG_CACHE_SECONDS = 300


def board_flag_cache_key(user_id: int) -> str:
    return f"attendance:board-of-education:{user_id}"


def is_board_of_education(user: User) -> bool:
    """Whether the staff member sits on the board of education (any role may): the console lists
    attendance for them. Asked on every console page, so cached per user (the key carries the
    schema); `staff_assign` / `staff_unassign` clear it."""
    if not user.is_authenticated or getattr(user, "kind", None) != User.Kind.STAFF:
        return False
    cached = getattr(user, "_attendance_scope", None)
    if cached is not None:
        return cached.is_board
    key = board_flag_cache_key(user.pk)
    flag = cache.get(key)
    if flag is None:
        flag = StaffAssignment.objects.filter(user=user, position=StaffAssignment.Position.BOARD).exists()
        cache.set(key, flag, BOARD_FLAG_CACHE_SECONDS)
    return flag


def _homeroom_of(user: User):
    return Exists(SchoolClass.homeroom_teachers.through.objects.filter(schoolclass_id=OuterRef("pk"),
                                                                       user_id=user.pk))


def classes_visible(*, user: User, fiscal_year: int | None = None) -> QuerySet[SchoolClass]:
    """Classes whose lists `user` may read: their homeroom classes, their whole school(s), or all."""
    scope = staff_scope(user)
    classes = SchoolClass.objects.select_related("school", "school_year")
    if fiscal_year is not None:
        classes = classes.filter(school_year__fiscal_year=fiscal_year)
    if not user_has_role(user, Role.TEACHER):
        return classes.none()
    if not scope.sees_every_school:
        classes = classes.filter(Q(school_id__in=scope.school_ids) | Q(_homeroom_of(user)))
    return classes.order_by("school__kind", "school__code", "grade", "name")


def access_class(*, user: User, class_id: int) -> SchoolClass:
    try:  # get() drops the list's ordering: one row by primary key needs no sort
        return classes_visible(user=user).get(pk=class_id)
    except SchoolClass.DoesNotExist:
        raise Http404 from None


def schools_visible(*, user: User) -> QuerySet[School]:
    """Schools whose whole-school view (names included) `user` may read."""
    scope = staff_scope(user)
    schools = School.objects.all()
    if not user_has_role(user, Role.TEACHER):
        return schools.none()
    if not scope.sees_every_school:
        schools = schools.filter(pk__in=scope.school_ids)
    return schools


def access_school(*, user: User, school_id: int) -> School:
    school = schools_visible(user=user).filter(pk=school_id).first()
    if school is None:
        raise Http404
    return school


def access_report_for_staff(*, user: User, report_id: int, for_update: bool = False) -> AbsenceReport:
    reports = AbsenceReport.objects.select_related("student", "school", "school_class", "reason")
    if for_update:
        reports = reports.select_for_update(of=("self",))
    report = reports.filter(pk=report_id, school_class__in=classes_visible(user=user).values("pk")).first()
    if report is None:
        raise Http404
    return report


def access_student_for_staff(*, user: User, student_id: int) -> Student:
    """A student whose current (or any) class the staff member may read."""
    visible = classes_visible(user=user).values("pk")
    student = (Student.objects.select_related("school")
               .filter(pk=student_id)
               .filter(Exists(Enrollment.objects.filter(student_id=OuterRef("pk"), school_class__in=visible)))
               .first())
    if student is None:
        raise Http404
    return student


# --- Guardians ----------------------------------------------------------------------------------
def children_of(*, guardian: User, fiscal_year: int | None = None) -> list[Student]:
    """Linked children with their school, the school's active reasons and the year's enrollment
    (`child.enrollment`, None when not enrolled that year). Four queries however many children."""
    fiscal_year = fiscal_year if fiscal_year is not None else fiscal_year_of(today_local())
    students = list(
        Student.objects.filter(guardian_links__guardian=guardian)
        .select_related("school")
        .prefetch_related(
            Prefetch("school__reasons", queryset=AbsenceReason.objects.filter(is_active=True), to_attr="active_reasons"),
            Prefetch("enrollments", to_attr="year_enrollments",
                     queryset=Enrollment.objects.filter(school_year__fiscal_year=fiscal_year)
                     .select_related("school_class__school_year")),
        )
        .order_by("school_id", "kana", "id")
    )
    for student in students:
        student.enrollment = student.year_enrollments[0] if student.year_enrollments else None
    return students


def access_child(*, guardian: User, student_id: int) -> Student:
    student = (Student.objects.select_related("school")
               .filter(pk=student_id, guardian_links__guardian=guardian).first())
    if student is None:
        raise Http404
    return student


def reports_of_guardian(*, guardian: User, student_id: int | None = None) -> QuerySet[AbsenceReport]:
    """Every report for the guardian's linked children (also those another guardian of the child made)."""
    reports = (AbsenceReport.objects
               .filter(Exists(GuardianLink.objects.filter(student_id=OuterRef("student_id"), guardian=guardian)))
               .select_related("student", "school", "school_class__school_year", "reason"))
    if student_id is not None:
        reports = reports.filter(student_id=student_id)
    return reports.order_by("-start_date", "-created_at", "-id")


def access_report_for_guardian(*, guardian: User, report_id: int, for_update: bool = False) -> AbsenceReport:
    reports = reports_of_guardian(guardian=guardian)
    if for_update:
        reports = reports.select_for_update(of=("self",))
    report = reports.filter(pk=report_id).first()
    if report is None:
        raise Http404
    return report


def announcements_for_guardian(*, guardian: User, fiscal_year: int | None = None) -> QuerySet[Announcement]:
    """Announcements of the year addressed to the school, grade or class of one of the guardian's children."""
    fiscal_year = fiscal_year if fiscal_year is not None else fiscal_year_of(today_local())
    enrollments = Enrollment.objects.filter(
        school_year__fiscal_year=fiscal_year, student__guardian_links__guardian=guardian)
    addressed = (
        Q(school_class__isnull=True, grade__isnull=True)
        & Exists(enrollments.filter(school_class__school_id=OuterRef("school_id")))
    ) | (
        Q(school_class__isnull=True, grade__isnull=False)
        & Exists(enrollments.filter(school_class__school_id=OuterRef("school_id"), school_class__grade=OuterRef("grade")))
    ) | Exists(enrollments.filter(school_class_id=OuterRef("school_class_id")))
    return (Announcement.objects.filter(school_year__fiscal_year=fiscal_year).filter(addressed)
            .select_related("school", "school_class").order_by("-created_at", "-id"))


# --- Class and school lists ---------------------------------------------------------------------
@dataclass
class ClassListEntry:
    number: int | None
    student: Student
    reports: list[AbsenceReport] = field(default_factory=list)


@dataclass
class ClassDayList:
    school_class: SchoolClass
    date: date
    entries: list[ClassListEntry]
    counts: dict


def _live_counts(reports: list[AbsenceReport], enrolled: int, infection_symptoms: frozenset[str]) -> dict:
    by_type: dict[str, set[int]] = defaultdict(set)
    symptoms: dict[str, set[int]] = defaultdict(set)
    infection_absent: set[int] = set()
    for report in reports:
        by_type[report.type].add(report.student_id)
        for code in report.symptoms:
            symptoms[code].add(report.student_id)
        if report.type == ReportType.ABSENT and infection_symptoms.intersection(report.symptoms):
            infection_absent.add(report.student_id)
    counts = {"enrolled": enrolled, **{t: len(by_type[t]) for t in ReportType.values},
              "infection_absent": len(infection_absent)}
    counts["symptoms"] = dict(sorted(((code, len(ids)) for code, ids in symptoms.items()),
                                     key=lambda item: (-item[1], item[0])))
    return counts


def _reports_on(day: date) -> QuerySet[AbsenceReport]:
    return AbsenceReport.objects.filter(start_date__lte=day, end_date__gte=day, status__in=ACTIVE_STATUSES)


def class_day_list(*, school_class: SchoolClass, day: date) -> ClassDayList:
    """The class's roster for the day with each child's reports: three queries whatever the size."""
    enrollments = list(Enrollment.objects.filter(school_class=school_class).select_related("student")
                       .order_by("number"))
    reports = list(_reports_on(day).filter(school_class=school_class).select_related("reason", "student")
                   .order_by("created_at", "id"))
    entries = [ClassListEntry(number=e.number, student=e.student) for e in enrollments]
    by_student = {entry.student.pk: entry for entry in entries}
    for report in reports:
        entry = by_student.get(report.student_id)
        if entry is None:  # moved out of the class after reporting: still the teacher's business today
            entry = by_student[report.student_id] = ClassListEntry(number=None, student=report.student)
            entries.append(entry)
        entry.reports.append(report)
    return ClassDayList(school_class=school_class, date=day, entries=entries,
                        counts=_live_counts(reports, enrolled=len(enrollments),
                                            infection_symptoms=frozenset(policy_get().infection_symptoms)))


@dataclass
class SchoolDayView:
    school: School
    date: date
    totals: dict
    grades: list[dict]
    classes: list[dict]
    reports: list[AbsenceReport]


def school_day_view(*, school: School, day: date) -> SchoolDayView:
    """Whole-school view for the principal and nurse: counts by class and grade, and every report."""
    classes = list(SchoolClass.objects.filter(school=school, school_year__fiscal_year=fiscal_year_of(day))
                   .select_related("school_year").annotate(enrolled=Count("enrollments")).order_by("grade", "name"))
    reports = list(_reports_on(day).filter(school=school)
                   .select_related("student", "school_class", "reason").order_by("school_class__grade",
                                                                                 "school_class__name", "created_at"))
    by_class: dict[int, list[AbsenceReport]] = defaultdict(list)
    for report in reports:
        by_class[report.school_class_id].append(report)
    infection = frozenset(policy_get().infection_symptoms)
    class_rows = []
    for school_class in classes:
        counts = _live_counts(by_class.get(school_class.pk, []), enrolled=school_class.enrolled,
                              infection_symptoms=infection)
        class_rows.append({"school_class": school_class, "grade": school_class.grade, **counts})
    grades = []
    for grade in sorted({row["grade"] for row in class_rows}):
        grades.append({"grade": grade, **sum_counts(row for row in class_rows if row["grade"] == grade)})
    return SchoolDayView(school=school, date=day, totals=sum_counts(class_rows), grades=grades,
                         classes=class_rows, reports=reports)


# --- Board of education and exports -------------------------------------------------------------
def board_day_counts(*, day: date) -> dict:
    """Every school's counts for a day from the daily aggregates (which outlive the reports)."""
    schools = list(School.objects.filter(is_active=True).order_by("kind", "code"))
    enrolled = dict(Enrollment.objects.filter(school_year__fiscal_year=fiscal_year_of(day))
                    .values_list("school_class__school_id").annotate(n=Count("id")))
    rows_by_school: dict[int, list[DailyClassCount]] = defaultdict(list)
    for row in DailyClassCount.objects.filter(date=day).only("school_id", "symptoms", *COUNT_FIELDS):
        rows_by_school[row.school_id].append(row)
    result = []
    for school in schools:
        counts = sum_counts(rows_by_school.get(school.pk, []))
        counts["enrolled"] = enrolled.get(school.pk, counts["enrolled"])
        result.append({"school": school, **counts})
    return {"date": day, "schools": result, "totals": sum_counts(result)}


def daily_counts_export_rows(*, start: date, end: date, school_ids: list[int] | None = None):
    """Per class per day counts for CSV export, oldest first."""
    rows = (DailyClassCount.objects.filter(date__gte=start, date__lte=end)
            .select_related("school", "school_class").order_by("date", "school__code", "grade", "school_class__name"))
    if school_ids is not None:
        rows = rows.filter(school_id__in=school_ids)
    return rows


def alerts_visible(*, user: User) -> QuerySet[OutbreakAlert]:
    scope = staff_scope(user)
    alerts = OutbreakAlert.objects.select_related("school", "school_class", "acknowledged_by")
    if scope.sees_counts_of_every_school:
        return alerts
    return alerts.filter(school_id__in=scope.school_ids)


def access_alert(*, user: User, alert_id: int) -> OutbreakAlert:
    alert = alerts_visible(user=user).filter(pk=alert_id).first()
    if alert is None:
        raise Http404
    return alert
