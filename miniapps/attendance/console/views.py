"""Attendance console pages: the teacher's morning list, the whole-school and board views, alerts,
roster import, school settings and the municipality's policy. The same selectors and services as
the API; the same 404 for "missing" and "not yours"."""
from __future__ import annotations

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.roles import Role
from admin_console.access import section_required, staff_required
from superapp.api.errors import ApiError

from .. import selectors, services
from ..calendar import fiscal_year_of, today_local
from ..constants import ReportType, Symptom, label_ja
from ..models import AbsenceReport, DailyClassCount, School, StaffAssignment
from ..roster import RosterError, roster_import
from . import forms as f


def _day(request):
    form = f.DayForm(request.GET or None)
    if form.is_bound and form.is_valid() and form.cleaned_data["date"]:
        return form.cleaned_data["date"], form
    return today_local(), f.DayForm(initial={"date": today_local()})


def _api_error_message(exc: ApiError) -> str:
    details = "; ".join(message for messages_ in exc.fields.values() for message in messages_)
    return f"{exc.message} / {exc.message_en}" + (f" ({details})" if details else "")


def _render(request, template: str, context: dict, status: int = 200):
    context.setdefault("scope", selectors.staff_scope(request.user))
    return render(request, template, context, status=status)


def _label_symptoms(reports) -> None:
    for report in reports:
        report.symptom_labels = [label_ja(Symptom, code) for code in report.symptoms if code in Symptom.values]


def _require_board(user) -> None:
    if not selectors.staff_scope(user).sees_counts_of_every_school:
        raise PermissionDenied


@staff_required()
def index(request):
    """Today at a glance: my classes with their counts, my schools, open alerts."""
    day = today_local()
    scope = selectors.staff_scope(request.user)
    classes = list(selectors.classes_visible(user=request.user, fiscal_year=fiscal_year_of(day))
                   .annotate(enrolled=Count("enrollments")))
    counts = {row.school_class_id: row for row in DailyClassCount.objects.filter(date=day, school_class__in=classes)}
    for school_class in classes:
        school_class.today = counts.get(school_class.pk)
    open_alerts = list(selectors.alerts_visible(user=request.user).filter(acknowledged_at__isnull=True)[:20])
    context = {"day": day, "classes": classes, "schools": list(selectors.schools_visible(user=request.user)),
               "alerts": open_alerts, "scope": scope,
               "is_admin": scope.is_admin}
    return _render(request, "attendance/console/index.html", context)


@section_required("attendance")
def class_list(request, class_id: int):
    """The morning list (朝の出欠確認): every child of the class and the day's reports."""
    school_class = selectors.access_class(user=request.user, class_id=class_id)
    day, form = _day(request)
    if request.method == "POST":  # "mark all seen" for the day shown
        marked = services.class_mark_seen(school_class=school_class, day=day, acting_user=request.user)
        messages.success(request, f"{marked}件を確認済みにしました / marked {marked} seen")
        return HttpResponseRedirect(f"{request.path}?date={day.isoformat()}")
    listing = selectors.class_day_list(school_class=school_class, day=day)
    _label_symptoms(report for entry in listing.entries for report in entry.reports)
    return _render(request, "attendance/console/class_list.html",
                  {"listing": listing, "form": form, "day": day, "school_class": school_class,
                   "pending": sum(1 for e in listing.entries for r in e.reports if r.status == "pending")})


@section_required("attendance")
def link_codes(request, class_id: int):
    """Issues one-time link codes for the class's children and shows a printable sheet (shown once)."""
    school_class = selectors.access_class(user=request.user, class_id=class_id)
    listing = selectors.class_day_list(school_class=school_class, day=today_local())
    issued = []
    if request.method == "POST":
        wanted = set(request.POST.getlist("student"))
        for entry in listing.entries:
            if entry.number is not None and str(entry.student.pk) in wanted:
                code = services.link_code_issue(student=entry.student, acting_user=request.user)
                issued.append((entry, code))
    return _render(request, "attendance/console/link_codes.html",
                  {"school_class": school_class, "entries": [e for e in listing.entries if e.number is not None],
                   "issued": issued})


@section_required("attendance")
def school_day(request, school_id: int):
    school = selectors.access_school(user=request.user, school_id=school_id)
    day, form = _day(request)
    view = selectors.school_day_view(school=school, day=day)
    _label_symptoms(view.reports)
    return _render(request, "attendance/console/school_day.html", {"view": view, "form": form, "school": school})


@staff_required()
def board(request):
    _require_board(request.user)
    day, form = _day(request)
    data = selectors.board_day_counts(day=day)
    return _render(request, "attendance/console/board.html",
                  {"data": data, "form": form, "range_form": f.RangeForm(initial={"start": day, "end": day}),
                   "symptom_labels": {code: label_ja(Symptom, code) for code in Symptom.values}})


EXPORT_HEADER = ["日付", "学校コード", "学校名", "学年", "組", "在籍", "欠席", "遅刻", "早退", "その他", "感染症状の欠席",
                 *[f"症状:{label_ja(Symptom, code)}" for code in Symptom.values]]


@staff_required()
def board_export(request):
    """Daily counts per class as CSV (UTF-8 with BOM, so Excel opens it correctly)."""
    _require_board(request.user)
    form = f.RangeForm(request.GET)
    if not form.is_valid():
        return HttpResponse("; ".join(str(e) for errors in form.errors.values() for e in errors), status=400,
                            content_type="text/plain; charset=utf-8")
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="attendance-{start}-{end}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow(EXPORT_HEADER)
    for row in selectors.daily_counts_export_rows(start=start, end=end):
        writer.writerow([row.date.isoformat(), row.school.code, row.school.name, row.grade, row.school_class.name,
                         row.enrolled, row.absent, row.late, row.early_leave, row.other, row.infection_absent,
                         *[row.symptoms.get(code, 0) for code in Symptom.values]])
    return response


@staff_required()
def alerts(request):
    items = list(selectors.alerts_visible(user=request.user)[:200])
    return _render(request, "attendance/console/alerts.html", {"alerts": items})


@staff_required()
def alert_detail(request, alert_id: int):
    alert = selectors.access_alert(user=request.user, alert_id=alert_id)
    if request.method == "POST":
        services.alert_acknowledge(alert=alert, acting_user=request.user)
        return HttpResponseRedirect(reverse("attendance_console:alert", args=[alert.pk]))
    reports = []
    if selectors.staff_scope(request.user).sees_school(alert.school_id):
        reports = list(AbsenceReport.objects.filter(school_class=alert.school_class, start_date__lte=alert.date,
                                                    end_date__gte=alert.date, type=ReportType.ABSENT)
                       .exclude(status="withdrawn").select_related("student", "reason"))
        _label_symptoms(reports)
    return _render(request, "attendance/console/alert_detail.html", {"alert": alert, "reports": reports})


@staff_required()
def roster(request):
    """Roster import (each April), for municipality admins and the board of education."""
    _require_board(request.user)
    form = f.RosterForm(request.POST or None, request.FILES or None)
    result, errors = None, []
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > 20 * 1024 * 1024:
            form.add_error("file", "20MBまでです / at most 20 MB")
        else:
            try:
                result = roster_import(data=upload.read(), acting_user=request.user,
                                       dry_run=form.cleaned_data["dry_run"])
            except RosterError as exc:
                errors = exc.errors
                status = 400
    if form.errors:
        status = 400
    return _render(request, "attendance/console/roster.html",
                  {"form": form, "result": result, "summary": result.summary() if result else None,
                   "errors": errors}, status=status)


@staff_required()
def schools(request):
    _require_board(request.user)
    form = f.SchoolForm(request.POST or None)
    if request.method == "POST":
        if not selectors.staff_scope(request.user).is_admin:
            raise PermissionDenied
        if form.is_valid():
            try:
                school = services.school_create(acting_user=request.user, **form.cleaned_data)
            except ApiError as exc:
                form.add_error(None, _api_error_message(exc))
            else:
                return HttpResponseRedirect(reverse("attendance_console:school_settings", args=[school.pk]))
    return _render(request, "attendance/console/schools.html",
                  {"schools": School.objects.annotate(classes_count=Count("classes", distinct=True)), "form": form},
                  status=400 if form.errors else 200)


@section_required("attendance")
def school_settings(request, school_id: int):
    """Cut-off time and message, reasons, notifications and staff positions: principal or admin."""
    school = selectors.access_school(user=request.user, school_id=school_id)
    scope = selectors.staff_scope(request.user)
    can_edit = scope.is_admin or StaffAssignment.objects.filter(
        user=request.user, school=school, position=StaffAssignment.Position.PRINCIPAL).exists()
    settings_form = f.SchoolSettingsForm(instance=school, prefix="s")
    reasons_form = f.ReasonsForm(prefix="r", initial={"reasons": "\n".join(
        f"{r.label} | {r.label_en}" for r in school.reasons.filter(is_active=True))})
    assignment_form = f.AssignmentForm(prefix="a")
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        action = request.POST.get("action")
        try:
            if action == "settings":
                settings_form = f.SchoolSettingsForm(request.POST, instance=school, prefix="s")
                if settings_form.is_valid():
                    changes = {name: settings_form.cleaned_data[name] for name in settings_form.fields}
                    school.refresh_from_db()
                    services.school_update(school=school, acting_user=request.user, **changes)
                    return HttpResponseRedirect(request.path)
            elif action == "reasons":
                reasons_form = f.ReasonsForm(request.POST, prefix="r")
                if reasons_form.is_valid():
                    services.school_reasons_set(school=school, reasons=reasons_form.parsed(), acting_user=request.user)
                    return HttpResponseRedirect(request.path)
            elif action == "assign":
                assignment_form = f.AssignmentForm(request.POST, prefix="a")
                if assignment_form.is_valid():
                    user = User.objects.filter(username=assignment_form.cleaned_data["username"]).first()
                    if user is None:
                        assignment_form.add_error("username", "その職員はいません / no such staff member")
                    else:
                        services.staff_assign(user=user, position=assignment_form.cleaned_data["position"],
                                              school=school, acting_user=request.user)
                        return HttpResponseRedirect(request.path)
            elif action == "unassign":
                assignment = StaffAssignment.objects.filter(pk=request.POST.get("assignment", "0") or 0,
                                                            school=school).first()
                if assignment is not None:
                    services.staff_unassign(assignment=assignment, acting_user=request.user)
                return HttpResponseRedirect(request.path)
        except ApiError as exc:
            messages.error(request, _api_error_message(exc))
        except ValueError:
            pass
        status = 400
    return _render(request, "attendance/console/school_settings.html", {
        "school": school, "can_edit": can_edit, "settings_form": settings_form, "reasons_form": reasons_form,
        "assignment_form": assignment_form,
        "assignments": school.staff_assignments.select_related("user").order_by("position")}, status=status)


@staff_required(Role.MUNICIPALITY_ADMIN)
def policy(request):
    current = selectors.policy_get()
    fields = list(f.PolicyForm.base_fields)
    form = f.PolicyForm(request.POST or None, initial={name: getattr(current, name) for name in fields})
    if request.method == "POST" and form.is_valid():
        try:
            services.policy_update(acting_user=request.user, **form.cleaned_data)
        except ApiError as exc:
            form.add_error(None, _api_error_message(exc))
        else:
            messages.success(request, "保存しました / Saved")
            return HttpResponseRedirect(request.path)
    return _render(request, "attendance/console/policy.html", {"form": form},
                  status=400 if form.errors else 200)


@section_required("attendance")
def announcement_new(request):
    """Compose an announcement to guardians of a class (homeroom teachers), a grade or a school."""
    day = today_local()
    targets: list[tuple[str, str]] = []
    for school in selectors.schools_visible(user=request.user):
        targets.append((f"school:{school.pk}", f"{school.name} 全体 / whole school"))
        for grade in range(1, school.max_grade + 1):
            targets.append((f"grade:{school.pk}:{grade}", f"{school.name} {grade}年 / grade {grade}"))
    for school_class in selectors.classes_visible(user=request.user, fiscal_year=fiscal_year_of(day)):
        targets.append((f"class:{school_class.pk}", f"{school_class.school.name} {school_class.display_name}"))
    form = f.AnnouncementForm(request.POST or None, targets=targets)
    if request.method == "POST" and form.is_valid():
        kind, _, rest = form.cleaned_data["target"].partition(":")
        try:
            if kind == "class":
                school_class = selectors.access_class(user=request.user, class_id=int(rest))
                school, grade = school_class.school, None
            else:
                school_id, _, grade_text = rest.partition(":")
                school = selectors.access_school(user=request.user, school_id=int(school_id))
                school_class, grade = None, int(grade_text) if grade_text else None
            item = services.announcement_create(school=school, grade=grade, school_class=school_class,
                                                title=form.cleaned_data["title"], body=form.cleaned_data["body"],
                                                acting_user=request.user)
        except ApiError as exc:
            form.add_error(None, _api_error_message(exc))
        else:
            messages.success(request, f"{item.recipient_count}人の保護者に送信しました / sent to {item.recipient_count} guardians")
            return HttpResponseRedirect(reverse("attendance_console:index"))
    return _render(request, "attendance/console/announcement_new.html", {"form": form},
                  status=400 if form.errors else 200)


@require_POST
@section_required("attendance")
def report_seen(request, report_id: int):
    report = selectors.access_report_for_staff(user=request.user, report_id=report_id)
    try:
        services.report_mark_seen(report=report, acting_user=request.user)
    except ApiError as exc:
        messages.error(request, _api_error_message(exc))
    return HttpResponseRedirect(reverse("attendance_console:class", args=[report.school_class_id])
                                + f"?date={report.start_date.isoformat()}")
