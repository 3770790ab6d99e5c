"""Writes for attendance: schools and staff, link codes, guardians' reports, marking seen, outbreak
alerts, announcements and retention. The API, the console, the management command and the tasks
all call these. Pushes go out after commit, from Celery tasks that call `notify`."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.selectors import user_has_role
from accounts.services import audit_record
from superapp.api.errors import ApiError

from .aggregates import ClassDayCount, class_counts_refresh
from .calendar import at_local, fiscal_year_of, fiscal_year_start, now_local
from .constants import (
    DEFAULT_REASONS,
    MAX_RANGE_DAYS,
    NOTE_MAX_LENGTH,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    ReportStatus,
    ReportType,
    Symptom,
    label_en,
    label_ja,
)
from .models import (
    AbsenceReason,
    AbsenceReport,
    Announcement,
    AttendancePolicy,
    DailyClassCount,
    Enrollment,
    GuardianLink,
    LinkCode,
    OutbreakAlert,
    School,
    SchoolClass,
    SchoolYear,
    StaffAssignment,
    Student,
)
from .selectors import (ACTIVE_STATUSES, access_child, access_report_for_guardian, board_flag_cache_key, policy_get,
                        staff_scope)


def _enqueue(task_name: str, **kwargs) -> None:
    """Sends one of this app's Celery tasks once the transaction commits (tasks import services)."""
    from . import tasks

    transaction.on_commit(lambda: getattr(tasks, task_name).delay(**kwargs))


def _field_error(field: str, ja: str, en: str, code: str = "validation_error", status_code: int = 400) -> ApiError:
    return ApiError(code, status_code=status_code, fields={field: [f"{ja} / {en}"]})


# --- Policy and schools -------------------------------------------------------------------------
_POLICY_FIELDS = ("outbreak_threshold_percent", "outbreak_min_absent", "outbreak_quiet_days", "infection_symptoms",
                  "retention_fiscal_years", "link_code_ttl_days")


@transaction.atomic
def policy_update(*, acting_user: User | None, **changes) -> AttendancePolicy:
    unknown = set(changes) - set(_POLICY_FIELDS)
    if unknown:
        raise ValueError(f"not policy fields: {sorted(unknown)}")
    if "infection_symptoms" in changes:
        codes = list(dict.fromkeys(changes["infection_symptoms"]))
        bad = [code for code in codes if code not in Symptom.values]
        if bad:
            raise _field_error("infection_symptoms", f"不明な症状です: {', '.join(bad)}", f"unknown symptoms: {', '.join(bad)}")
        changes["infection_symptoms"] = codes
    policy = policy_get()
    before = {name: getattr(policy, name) for name in changes}
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.updated_by = acting_user
    policy.full_clean()
    policy.save()
    audit_record(actor=acting_user, action="attendance.policy_updated", target=policy,
                 data={"before": before, "after": {name: getattr(policy, name) for name in changes}})
    return policy


_SCHOOL_SETTINGS = ("name", "name_en", "phone", "cutoff_time", "cutoff_message", "cutoff_message_en",
                    "past_days_allowed", "future_days_allowed", "notify_guardian_on_seen", "district", "is_active")


@transaction.atomic
def school_create(*, code: str, name: str, kind: str, acting_user: User | None = None, **extra) -> School:
    code, name = code.strip(), name.strip()
    if not code or not name:
        raise _field_error("code" if not code else "name", "学校コードと学校名は必須です", "code and name are required")
    if kind not in School.Kind.values:
        raise _field_error("kind", "校種は elementary か junior_high です", "kind must be elementary or junior_high")
    if School.objects.filter(code=code).exists():
        raise _field_error("code", f"学校コード{code}は既に登録されています", f"school code {code} already exists",
                           code="conflict", status_code=409)
    unknown = set(extra) - set(_SCHOOL_SETTINGS)
    if unknown:
        raise ValueError(f"not school settings: {sorted(unknown)}")
    school = School(code=code, name=name, kind=kind, **extra)
    school.full_clean()
    school.save()
    AbsenceReason.objects.bulk_create([
        AbsenceReason(school=school, label=label, label_en=label_en_, sort_order=index)
        for index, (label, label_en_) in enumerate(DEFAULT_REASONS)
    ])
    audit_record(actor=acting_user, action="attendance.school_created", target=school, data={"code": code})
    return school


@transaction.atomic
def school_update(*, school: School, acting_user: User | None, **changes) -> School:
    unknown = set(changes) - set(_SCHOOL_SETTINGS)
    if unknown:
        raise ValueError(f"not school settings: {sorted(unknown)}")
    changed = {}
    for name, value in changes.items():
        if getattr(school, name) != value:
            changed[name] = str(value)
            setattr(school, name, value)
    if changed:
        school.full_clean()
        school.save()
        audit_record(actor=acting_user, action="attendance.school_updated", target=school, data=changed)
    return school


@transaction.atomic
def school_reasons_set(*, school: School, reasons: list[tuple[str, str]], acting_user: User | None) -> list[AbsenceReason]:
    """Replaces the school's reason list; reasons no longer listed are deactivated (old reports keep them)."""
    cleaned: list[tuple[str, str]] = []
    for label, english in reasons:
        label, english = label.strip(), english.strip()
        if not label:
            continue
        if len(label) > 50 or len(english) > 100:
            raise _field_error("reasons", "理由は50文字以内です", "a reason is at most 50 characters")
        if label not in {existing for existing, _ in cleaned}:
            cleaned.append((label, english))
    if not cleaned:
        raise _field_error("reasons", "理由を1つ以上指定してください", "give at least one reason")
    existing = {reason.label: reason for reason in AbsenceReason.objects.select_for_update().filter(school=school)}
    kept = []
    for index, (label, english) in enumerate(cleaned):
        reason = existing.pop(label, None) or AbsenceReason(school=school, label=label)
        reason.label_en, reason.sort_order, reason.is_active = english, index, True
        reason.save()
        kept.append(reason)
    AbsenceReason.objects.filter(pk__in=[reason.pk for reason in existing.values()]).update(is_active=False)
    audit_record(actor=acting_user, action="attendance.reasons_updated", target=school,
                 data={"reasons": [label for label, _ in cleaned]})
    return kept


def school_year_get_or_create(*, fiscal_year: int) -> SchoolYear:
    year, _ = SchoolYear.objects.get_or_create(fiscal_year=fiscal_year)
    return year


@transaction.atomic
def staff_assign(*, user: User, position: str, school: School | None, acting_user: User | None) -> StaffAssignment:
    if position not in StaffAssignment.Position.values:
        raise _field_error("position", "不明な役職です", "unknown position")
    if user.kind != User.Kind.STAFF or not user.is_active:
        raise _field_error("user", "職員アカウントを指定してください", "must be an active staff account")
    if position == StaffAssignment.Position.BOARD:
        school = None
    elif school is None:
        raise _field_error("school", "学校を指定してください", "a school is required for this position")
    elif not user_has_role(user, Role.TEACHER):
        raise _field_error("user", "校長・教頭・養護教諭には「教員」の役割が必要です",
                           "principals, vice principals and nurses need the teacher role")
    assignment, created = StaffAssignment.objects.get_or_create(user=user, school=school, position=position)
    if created:
        audit_record(actor=acting_user, action="attendance.staff_assigned", target=user,
                     data={"position": position, "school": getattr(school, "code", None)})
        _forget_board_flag(user.pk)
    return assignment


def _forget_board_flag(user_id: int) -> None:
    """The console's cached "board of education?" answer (selectors.is_board_of_education)."""
    key = board_flag_cache_key(user_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))  # a page read before the commit may have cached it again


@transaction.atomic
def staff_unassign(*, assignment: StaffAssignment, acting_user: User | None) -> None:
    audit_record(actor=acting_user, action="attendance.staff_unassigned", target=assignment.user,
                 data={"position": assignment.position, "school": getattr(assignment.school, "code", None)})
    assignment.delete()
    _forget_board_flag(assignment.user_id)


# --- Link codes ---------------------------------------------------------------------------------
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by parents
LINK_CODE_LENGTH = 12


def _normalise_code(raw: str) -> str:
    # Parents type on phones: full-width letters, lower case, spaces and hyphens all work.
    text = unicodedata.normalize("NFKC", raw).upper()
    return "".join(ch for ch in text if ch.isalnum())


def link_code_hash(raw: str) -> str:
    key = hashlib.sha256(("attendance-link-code:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, _normalise_code(raw).encode(), hashlib.sha256).hexdigest()


def format_link_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


@dataclass(frozen=True)
class IssuedLinkCode:
    link_code: LinkCode
    code: str  # shown once, formatted XXXX-XXXX-XXXX


@transaction.atomic
def link_code_issue(*, student: Student, acting_user: User | None, ttl_days: int | None = None) -> IssuedLinkCode:
    ttl_days = ttl_days or policy_get().link_code_ttl_days
    raw = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
    link_code = LinkCode.objects.create(student=student, code_hash=link_code_hash(raw), created_by=acting_user,
                                        expires_at=timezone.now() + timedelta(days=ttl_days))
    audit_record(actor=acting_user, action="attendance.link_code_issued", target=student,
                 data={"link_code": link_code.pk, "expires_at": link_code.expires_at.isoformat()})
    return IssuedLinkCode(link_code=link_code, code=format_link_code(raw))


def _link_limits() -> tuple[int, int]:
    return (getattr(settings, "ATTENDANCE_LINK_MAX_FAILURES", 5),
            getattr(settings, "ATTENDANCE_LINK_LOCKOUT_SECONDS", 3600))


def _link_failure_keys(guardian: User, client_ip: str) -> list[str]:
    return [f"attendance-link-failures:user:{guardian.pk}", f"attendance-link-failures:ip:{client_ip}"]


def _link_failed(keys: list[str]) -> None:
    _, lockout = _link_limits()
    for key in keys:
        if cache.add(key, 1, timeout=lockout):
            continue
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=lockout)


def guardian_link_with_code(*, guardian: User, code: str, client_ip: str) -> GuardianLink:
    """Links a resident to the child a one-time code was issued for. Wrong codes are counted per
    guardian and per address; after ATTENDANCE_LINK_MAX_FAILURES the next hour's tries get 429."""
    max_failures, lockout = _link_limits()
    keys = _link_failure_keys(guardian, client_ip)
    if any((cache.get(key) or 0) >= max_failures for key in keys):
        raise ApiError("rate_limited", status_code=429, fields={"retry_after_seconds": [str(lockout)]})
    try:
        return _guardian_link(guardian=guardian, code=code)
    except ApiError as exc:
        if exc.code in {"attendance_link_code_invalid", "attendance_link_code_expired", "attendance_link_code_used"}:
            _link_failed(keys)
        raise


@transaction.atomic
def _guardian_link(*, guardian: User, code: str) -> GuardianLink:
    normalised = _normalise_code(code)
    link_code = None
    if len(normalised) == LINK_CODE_LENGTH:
        link_code = (LinkCode.objects.select_for_update().select_related("student")
                     .filter(code_hash=link_code_hash(normalised)).first())
    if link_code is None:
        raise ApiError("attendance_link_code_invalid", fields={"code": [
            "連携コードが正しくありません。学校から配られたコードをご確認ください。 / "
            "The code is not right; check the code the school gave you."]})
    if link_code.used_at is not None:
        raise ApiError("attendance_link_code_used", status_code=409)
    if link_code.expires_at <= timezone.now():
        raise ApiError("attendance_link_code_expired")
    if GuardianLink.objects.filter(guardian=guardian, student=link_code.student).exists():
        raise ApiError("attendance_already_linked", status_code=409)
    link = GuardianLink.objects.create(guardian=guardian, student=link_code.student, link_code=link_code)
    link_code.used_at, link_code.used_by = timezone.now(), guardian
    link_code.save(update_fields=["used_at", "used_by"])
    audit_record(actor=guardian, action="attendance.guardian_linked", target=link_code.student,
                 data={"link_code": link_code.pk})
    return link


@transaction.atomic
def guardian_unlink(*, guardian: User, student: Student) -> None:
    deleted, _ = GuardianLink.objects.filter(guardian=guardian, student=student).delete()
    if deleted:
        audit_record(actor=guardian, action="attendance.guardian_unlinked", target=student)


# --- Reports ------------------------------------------------------------------------------------
# A new report of one type may not overlap an active report of these types for the same child.
_CONFLICTS = {
    ReportType.ABSENT: (ReportType.ABSENT, ReportType.LATE, ReportType.EARLY_LEAVE),
    ReportType.LATE: (ReportType.ABSENT, ReportType.LATE),
    ReportType.EARLY_LEAVE: (ReportType.ABSENT, ReportType.EARLY_LEAVE),
    ReportType.OTHER: (),
}


def _after_cutoff(school: School, day: date, now: datetime) -> bool:
    return now >= at_local(day, school.cutoff_time)


def _cutoff_error(school: School, code: str = "attendance_after_cutoff", status_code: int = 400) -> ApiError:
    ja, en = school.cutoff_messages()
    return ApiError(code, status_code=status_code, message=ja, message_en=en,
                    fields={"cutoff_time": [school.cutoff_time.strftime("%H:%M")],
                            "phone": [school.phone] if school.phone else []})


def _validate_report(*, school: School, type: str, reason_id: int, start: date, end: date, symptoms: list[str],
                     temperature: float | None, expected_time: time | None, note: str, today: date) -> dict:
    errors: dict[str, list[str]] = {}

    def add(field: str, ja: str, en: str) -> None:
        errors.setdefault(field, []).append(f"{ja} / {en}")

    if end < start:
        add("end_date", "終了日が開始日より前です", "end_date is before date")
    elif (end - start).days + 1 > MAX_RANGE_DAYS:
        add("end_date", f"期間は{MAX_RANGE_DAYS}日までです", f"a range is at most {MAX_RANGE_DAYS} days")
    elif fiscal_year_of(start) != fiscal_year_of(end):
        add("end_date", "年度をまたぐ期間は、3月31日までと4月1日からに分けて連絡してください",
            "split a range that crosses March 31 into two reports")
    if type in (ReportType.LATE, ReportType.EARLY_LEAVE) and end != start:
        add("end_date", "遅刻・早退は1日ずつ連絡してください", "late and early leave are reported one day at a time")
    if (today - start).days > school.past_days_allowed:
        add("date", f"{school.past_days_allowed}日より前の日付は連絡できません。学校へお問い合わせください",
            f"dates more than {school.past_days_allowed} days ago cannot be reported; please contact the school")
    if (end - today).days > school.future_days_allowed:
        add("end_date" if end != start else "date", f"{school.future_days_allowed}日より先の日付は連絡できません",
            f"dates more than {school.future_days_allowed} days ahead cannot be reported")
    if expected_time is not None and type not in (ReportType.LATE, ReportType.EARLY_LEAVE):
        add("expected_time", "到着・下校予定時刻は遅刻・早退のときだけ指定します",
            "expected_time is only for late or early_leave")
    unknown = [code for code in symptoms if code not in Symptom.values]
    if unknown:
        add("symptoms", f"不明な症状です: {', '.join(unknown)}", f"unknown symptoms: {', '.join(unknown)}")
    if temperature is not None and not (TEMPERATURE_MIN <= temperature <= TEMPERATURE_MAX):
        add("temperature", f"体温は{TEMPERATURE_MIN}〜{TEMPERATURE_MAX}℃で入力してください",
            f"temperature must be between {TEMPERATURE_MIN} and {TEMPERATURE_MAX} °C")
    if len(note) > NOTE_MAX_LENGTH:
        add("note", f"連絡事項は{NOTE_MAX_LENGTH}文字までです", f"note is at most {NOTE_MAX_LENGTH} characters")
    reason = AbsenceReason.objects.filter(pk=reason_id, school=school, is_active=True).first()
    if reason is None:
        add("reason", "この学校の理由の一覧から選んでください", "choose a reason from the school's list")
    if errors:
        raise ApiError("validation_error", fields=errors)
    return {"reason": reason}


def _lock_class(class_id: int) -> SchoolClass:
    # Serialises every write to one class's reports, so its counts are recomputed one after another.
    return SchoolClass.objects.select_for_update().get(pk=class_id)


@transaction.atomic
def report_create(*, guardian: User, student_id: int, type: str, reason_id: int, start_date: date,
                  end_date: date | None = None, symptoms: list[str] | None = None, temperature: float | None = None,
                  expected_time: time | None = None, note: str = "") -> AbsenceReport:
    start, end = start_date, end_date or start_date
    # One statement finds the guardian's child, its school and its class that school year, and locks
    # the class: every write to one class's reports (and so to its counts) happens one after another.
    enrollment = (Enrollment.objects.select_for_update(of=("school_class",))
                  .select_related("student__school", "school_class__school_year")
                  .filter(student_id=student_id, student__guardian_links__guardian=guardian,
                          school_year__fiscal_year=fiscal_year_of(start)).first())
    # Not enrolled that year: the same 404 as "not your child" unless it is, then the input's errors.
    student = enrollment.student if enrollment else access_child(guardian=guardian, student_id=student_id)
    school = student.school
    symptoms = list(dict.fromkeys(symptoms or []))
    note = note.strip()
    now = now_local()
    today = now.date()
    checked = _validate_report(school=school, type=type, reason_id=reason_id, start=start, end=end, symptoms=symptoms,
                               temperature=temperature, expected_time=expected_time, note=note, today=today)
    if start <= today <= end and _after_cutoff(school, today, now):
        raise _cutoff_error(school)
    if enrollment is None:
        raise ApiError("attendance_not_enrolled")
    school_class = enrollment.school_class
    clash = (AbsenceReport.objects.filter(student=student, status__in=ACTIVE_STATUSES, start_date__lte=end,
                                          end_date__gte=start, type__in=_CONFLICTS[ReportType(type)])
             .values_list("pk", flat=True).first())
    if clash is not None:
        raise ApiError("attendance_report_overlaps", status_code=409, fields={"report": [str(clash)]})
    report = AbsenceReport.objects.create(
        student=student, school=school, school_class=school_class, reported_by=guardian, type=type,
        reason=checked["reason"], symptoms=symptoms,
        temperature=Decimal(str(round(temperature, 1))) if temperature is not None else None,
        start_date=start, end_date=end, expected_time=expected_time, note=note,
    )
    _counts_changed(school_class=school_class, start=start, end=end, today=today)
    return report


@transaction.atomic
def report_withdraw(*, guardian: User, report_id: int) -> AbsenceReport:
    """Withdraws a report until the cut-off of its first day; after that the school must be phoned."""
    report = access_report_for_guardian(guardian=guardian, report_id=report_id, for_update=True)
    if report.status == ReportStatus.WITHDRAWN:
        return report
    now = now_local()
    if _after_cutoff(report.school, report.start_date, now):
        raise _cutoff_error(report.school, code="attendance_withdraw_closed", status_code=409)
    school_class = _lock_class(report.school_class_id)
    report.status, report.withdrawn_at, report.withdrawn_by = ReportStatus.WITHDRAWN, timezone.now(), guardian
    report.save(update_fields=["status", "withdrawn_at", "withdrawn_by", "updated_at"])
    audit_record(actor=guardian, action="attendance.report_withdrawn", target=report)
    _counts_changed(school_class=school_class, start=report.start_date, end=report.end_date, today=now.date())
    return report


def _mark_seen(report_ids: list[int], acting_user: User) -> list[int]:
    """Conditional update, so a report is marked (and its guardians told) once however often it is clicked."""
    if not report_ids:
        return []
    now = timezone.now()
    # Locked rows are re-checked after a concurrent marker commits, so each is marked by one request.
    marked = list(AbsenceReport.objects.select_for_update().filter(pk__in=report_ids, status=ReportStatus.PENDING)
                  .values_list("pk", flat=True))
    if marked:
        AbsenceReport.objects.filter(pk__in=marked).update(
            status=ReportStatus.SEEN, seen_at=now, seen_by=acting_user, updated_at=now)
        _enqueue("notify_report_seen", report_ids=marked)
    return marked


@transaction.atomic
def report_mark_seen(*, report: AbsenceReport, acting_user: User) -> AbsenceReport:
    if report.status == ReportStatus.WITHDRAWN:
        raise ApiError("attendance_report_withdrawn", status_code=409)
    _mark_seen([report.pk], acting_user)
    report.refresh_from_db(fields=["status", "seen_at", "seen_by", "updated_at"])
    return report


@transaction.atomic
def class_mark_seen(*, school_class: SchoolClass, day: date, acting_user: User) -> int:
    """Marks every pending report of the class for the day as seen (the teacher's morning round)."""
    ids = list(AbsenceReport.objects.filter(school_class=school_class, status=ReportStatus.PENDING,
                                            start_date__lte=day, end_date__gte=day).values_list("pk", flat=True))
    return len(_mark_seen(ids, acting_user))


# --- Counts and outbreak alerts -----------------------------------------------------------------
def _counts_changed(*, school_class: SchoolClass, start: date, end: date, today: date) -> None:
    policy = policy_get()
    counts = class_counts_refresh(school_class=school_class, start=start, end=end,
                                  infection_symptoms=policy.infection_symptoms)
    for count in counts:
        if count.date == today:
            outbreak_check(school_class=school_class, count=count, policy=policy)


def _over_threshold(count, policy: AttendancePolicy) -> bool:
    return bool(count.enrolled) and count.infection_absent >= policy.outbreak_min_absent and \
        count.infection_absent * 100 >= policy.outbreak_threshold_percent * count.enrolled


def outbreak_check(*, school_class: SchoolClass, count: ClassDayCount | DailyClassCount,
                   policy: AttendancePolicy) -> OutbreakAlert | None:
    """Raises an alert when the class's share of infection-type absences reaches the threshold, at
    most once per class within the policy's quiet period. Principal and nurse are pushed on commit."""
    if not _over_threshold(count, policy):
        return None
    quiet_from = count.date - timedelta(days=max(policy.outbreak_quiet_days - 1, 0))
    if OutbreakAlert.objects.filter(school_class=school_class, date__gte=quiet_from, date__lte=count.date).exists():
        return None
    try:
        with transaction.atomic():
            alert = OutbreakAlert.objects.create(
                school_id=school_class.school_id, school_class=school_class, date=count.date,
                enrolled=count.enrolled, infection_absent=count.infection_absent,
                threshold_percent=policy.outbreak_threshold_percent, symptoms=dict(count.symptoms or {}))
    except IntegrityError:  # raised by a concurrent check a moment ago
        return None
    audit_record(actor=None, action="attendance.outbreak_alert", target=alert,
                 data={"class": school_class.pk, "date": count.date.isoformat(),
                       "infection_absent": count.infection_absent, "enrolled": count.enrolled})
    _enqueue("notify_outbreak_alert", alert_id=alert.pk)
    return alert


def outbreaks_evaluate(*, day: date) -> list[OutbreakAlert]:
    """Checks every class's counts for the day (multi-day absences reported earlier count too)."""
    policy = policy_get()
    raised = []
    rows = DailyClassCount.objects.filter(date=day, infection_absent__gte=policy.outbreak_min_absent) \
        .select_related("school_class")
    for row in rows:
        with transaction.atomic():
            alert = outbreak_check(school_class=row.school_class, count=row, policy=policy)
        if alert is not None:
            raised.append(alert)
    return raised


@transaction.atomic
def alert_acknowledge(*, alert: OutbreakAlert, acting_user: User) -> OutbreakAlert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = timezone.now(), acting_user
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        audit_record(actor=acting_user, action="attendance.alert_acknowledged", target=alert)
    return alert


def daily_counts_finalize(*, day: date) -> int:
    """Recomputes the day's counts for every class of its school year, so classes nobody reported
    for still have a row (with the number enrolled) once their reports are gone."""
    policy = policy_get()
    classes = SchoolClass.objects.filter(school_year__fiscal_year=fiscal_year_of(day))
    done = 0
    for school_class in classes.iterator():
        with transaction.atomic():
            _lock_class(school_class.pk)
            class_counts_refresh(school_class=school_class, start=day, end=day,
                                 infection_symptoms=policy.infection_symptoms)
        done += 1
    return done


def reports_purge_expired(*, today: date | None = None, batch_size: int = 5000) -> int:
    """Deletes reports past the municipality's retention (by default, the end of the fiscal year
    after the report's own), and used or expired link codes. Daily counts and alerts stay."""
    today = today or now_local().date()
    policy = policy_get()
    keep_from = fiscal_year_start(fiscal_year_of(today) - policy.retention_fiscal_years)
    deleted = 0
    while True:
        ids = list(AbsenceReport.objects.filter(end_date__lt=keep_from).values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        with transaction.atomic():
            count, _ = AbsenceReport.objects.filter(pk__in=ids).delete()
        deleted += count
    stale = timezone.now() - timedelta(days=90)
    LinkCode.objects.filter(expires_at__lt=stale).delete()
    if deleted:
        audit_record(actor=None, action="attendance.reports_purged",
                     data={"deleted": deleted, "before": keep_from.isoformat()})
    return deleted


# --- Announcements ------------------------------------------------------------------------------
@transaction.atomic
def announcement_create(*, school: School, title: str, body: str, acting_user: User, grade: int | None = None,
                        school_class: SchoolClass | None = None) -> Announcement:
    """An announcement to guardians of a school, one grade or one class of the current school year.
    Homeroom teachers may address their own classes; the principal, vice principal and nurse the school."""
    title, body = title.strip(), body.strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = ["件名を入力してください / title is required"]
    if not body:
        errors["body"] = ["本文を入力してください / body is required"]
    fiscal_year = fiscal_year_of(now_local().date())
    if school_class is not None:
        if school_class.school_id != school.pk or school_class.school_year.fiscal_year != fiscal_year:
            errors["school_class"] = ["この学校の今年度の学級を指定してください / choose a class of this school and year"]
        elif grade is not None and grade != school_class.grade:
            errors["grade"] = ["学年が学級と一致しません / grade does not match the class"]
        grade = school_class.grade
    elif grade is not None and not 1 <= grade <= school.max_grade:
        errors["grade"] = [f"学年は1〜{school.max_grade}です / grade must be 1 to {school.max_grade}"]
    if errors:
        raise ApiError("validation_error", fields=errors)
    scope = staff_scope(acting_user)
    allowed = scope.sees_school(school.pk) or (
        school_class is not None and school_class.homeroom_teachers.filter(pk=acting_user.pk).exists())
    if not allowed:
        raise ApiError("permission_denied", status_code=403)
    year = school_year_get_or_create(fiscal_year=fiscal_year)
    enrollments = Enrollment.objects.filter(school_year=year, school_class__school=school)
    if school_class is not None:
        enrollments = enrollments.filter(school_class=school_class)
    elif grade is not None:
        enrollments = enrollments.filter(school_class__grade=grade)
    guardian_ids = sorted(set(GuardianLink.objects.filter(student__in=enrollments.values("student_id"))
                              .values_list("guardian_id", flat=True)))
    announcement = Announcement.objects.create(school=school, school_year=year, grade=grade, school_class=school_class,
                                               title=title, body=body, created_by=acting_user,
                                               recipient_count=len(guardian_ids))
    audit_record(actor=acting_user, action="attendance.announcement_sent", target=announcement,
                 data={"school": school.code, "grade": grade, "class": getattr(school_class, "pk", None),
                       "recipients": len(guardian_ids)})
    _enqueue("notify_announcement", announcement_id=announcement.pk)
    return announcement


def report_summary(report: AbsenceReport, language: str = "ja") -> str:
    """One line a guardian or teacher reads: "6/3(火) 欠席（体調不良）"."""
    weekdays_ja = "月火水木金土日"
    start, end = report.start_date, report.end_date
    if language == "en":
        span = start.strftime("%b %-d") + (f"–{end.strftime('%b %-d')}" if end != start else "")
        return f"{span} {label_en(ReportType, report.type)} ({report.reason.label_en or report.reason.label})"
    span = f"{start.month}/{start.day}({weekdays_ja[start.weekday()]})"
    if end != start:
        span += f"〜{end.month}/{end.day}({weekdays_ja[end.weekday()]})"
    return f"{span} {label_ja(ReportType, report.type)}（{report.reason.label}）"
