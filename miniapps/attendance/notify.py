"""Messages the attendance app sends, composed here and handed to the notifications pipeline by
`deliver` (the one seam between this app and `notifications`). Called from Celery tasks only."""
from __future__ import annotations

from dataclasses import dataclass

import structlog
from django.apps import apps
from django.db.models import Prefetch

from accounts.models import User

from .constants import Symptom, label_en, label_ja
from .models import AbsenceReport, Announcement, Enrollment, GuardianLink, OutbreakAlert, StaffAssignment

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    deep_link: str
    data: dict


def _by_language(users, compose) -> dict[str, tuple[list[int], Message]]:
    batches: dict[str, tuple[list[int], Message]] = {}
    for user in users:
        language = "en" if user.language == User.Language.EN else "ja"
        if language not in batches:
            batches[language] = ([], compose(language))
        batches[language][0].append(user.pk)
    return batches


@dataclass(frozen=True)
class Push:
    user_ids: list[int]
    message: Message
    key: str  # idempotency key: the same push is never sent twice
    urgent: bool = False
    to_staff: bool = False  # addressed to school staff (principal, nurse), not guardians


def send(pushes: list[Push]) -> int:
    return sum(deliver(user_ids=push.user_ids, message=push.message, key=push.key, urgent=push.urgent,
                       to_staff=push.to_staff)
               for push in pushes)


def report_seen(*, report_ids: list[int]) -> int:
    return send(report_seen_pushes(report_ids=report_ids))


def outbreak_alert(*, alert_id: int) -> int:
    return send(outbreak_alert_pushes(alert_id=alert_id))


def announcement(*, announcement_id: int) -> int:
    return send(announcement_pushes(announcement_id=announcement_id))


def report_seen_pushes(*, report_ids: list[int]) -> list[Push]:
    """Each linked guardian hears that the school has seen their child's report (if the school
    turned this on), in their own language."""
    from .services import report_summary

    reports = (AbsenceReport.objects.filter(pk__in=report_ids, school__notify_guardian_on_seen=True)
               .select_related("student", "reason", "school")
               .prefetch_related(Prefetch("student__guardian_links",
                                          queryset=GuardianLink.objects.select_related("guardian"))))
    pushes = []
    for report in reports:
        guardians = [link.guardian for link in report.student.guardian_links.all() if link.guardian.is_active]

        def compose(language: str, report=report) -> Message:
            if language == "en":
                return Message(f"{report.school.name_en or report.school.name}: report seen",
                               f"The school has seen your report for {report.student.name}: "
                               f"{report_summary(report, 'en')}.",
                               f"superapp://attendance/reports/{report.pk}", {"report": str(report.pk)})
            return Message(f"{report.school.name}より確認のお知らせ",
                           f"{report.student.name}さんの連絡（{report_summary(report)}）を学校が確認しました。",
                           f"superapp://attendance/reports/{report.pk}", {"report": str(report.pk)})

        for language, (user_ids, message) in _by_language(guardians, compose).items():
            pushes.append(Push(user_ids, message, f"attendance-seen-{report.pk}-{language}"))
    return pushes


def outbreak_alert_pushes(*, alert_id: int) -> list[Push]:
    """The principal and nurse of the alert's school: review a class closure (学級閉鎖の検討)."""
    alert = (OutbreakAlert.objects.select_related("school", "school_class").filter(pk=alert_id).first())
    if alert is None:
        return []
    staff = list(User.objects.filter(
        is_active=True, attendance_assignments__school=alert.school,
        attendance_assignments__position__in=StaffAssignment.ALERTED).distinct())
    top = sorted(alert.symptoms.items(), key=lambda item: (-item[1], item[0]))[:3]

    def compose(language: str) -> Message:
        data = {"alert": str(alert.pk), "class": str(alert.school_class_id), "date": alert.date.isoformat()}
        link = f"/console/attendance/alerts/{alert.pk}/"
        if language == "en":
            symptoms = ", ".join(f"{label_en(Symptom, code)} {n}" for code, n in top if code in Symptom.values)
            return Message(f"Class-closure review: {alert.school.name_en or alert.school.name} "
                           f"grade {alert.school_class.grade} {alert.school_class.name}",
                           f"{alert.infection_absent} of {alert.enrolled} pupils ({alert.share_percent}%) are absent "
                           f"with infection-type symptoms on {alert.date.isoformat()} (threshold "
                           f"{alert.threshold_percent}%). {symptoms}", link, data)
        symptoms = "、".join(f"{label_ja(Symptom, code)}{n}名" for code, n in top if code in Symptom.values)
        return Message(f"【学級閉鎖の検討】{alert.school.name} {alert.school_class.display_name}",
                       f"{alert.date.month}月{alert.date.day}日、{alert.enrolled}名中{alert.infection_absent}名"
                       f"（{alert.share_percent}%）が感染症状による欠席です（基準{alert.threshold_percent}%）。"
                       f"{symptoms}", link, data)

    return [Push(ids, message, f"attendance-alert-{alert.pk}-{language}", urgent=True, to_staff=True)
            for language, (ids, message) in _by_language(staff, compose).items()]


def announcement_recipients(announcement: Announcement) -> list[User]:
    enrollments = Enrollment.objects.filter(school_year=announcement.school_year,
                                            school_class__school=announcement.school)
    if announcement.school_class_id is not None:
        enrollments = enrollments.filter(school_class_id=announcement.school_class_id)
    elif announcement.grade is not None:
        enrollments = enrollments.filter(school_class__grade=announcement.grade)
    return list(User.objects.filter(is_active=True, attendance_links__student__in=enrollments.values("student_id"))
                .distinct())


def announcement_pushes(*, announcement_id: int) -> list[Push]:
    item = Announcement.objects.select_related("school").filter(pk=announcement_id).first()
    if item is None:
        return []
    message = Message(f"{item.school.name}: {item.title}", item.body[:200],
                      f"superapp://attendance/announcements/{item.pk}", {"announcement": str(item.pk)})
    users = announcement_recipients(item)
    if not users:
        return []
    return [Push([user.pk for user in users], message, f"attendance-announcement-{item.pk}")]


def deliver(*, user_ids: list[int], message: Message, key: str, urgent: bool = False, to_staff: bool = False) -> int:
    """The seam to the notifications pipeline: a system notification (topic `school`, no acting
    staff member) to every active device of these users plus their in-app inbox, sent when the
    caller's transaction commits, never twice for the same `key`. Staff (principal, nurse) are
    addressed with `to_staff`. Guardians who muted `school` are left out. Returns the number of
    users it reached (0 when the key was sent before)."""
    if not apps.is_installed("notifications"):
        log.warning("attendance_push_skipped_no_pipeline", key=key, users=len(user_ids), title=message.title)
        return 0
    from notifications.services import notification_send_system  # noqa: PLC0415  (optional app)

    created = notification_send_system(
        app="attendance", user_ids=user_ids, title=message.title, body=message.body, deep_link=message.deep_link,
        data=message.data, topic="school", priority="high" if urgent else "normal", key=key, include_staff=to_staff)
    return sum(notification.recipients for notification in created)
