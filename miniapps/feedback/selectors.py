"""Reads for feedback: a resident's own, and the staff inbox."""
from __future__ import annotations

from django.db.models import Count, QuerySet

from accounts.models import User
from superapp.api.errors import ApiError

from .models import Feedback


def feedback_of_resident(*, user: User) -> QuerySet[Feedback]:
    return Feedback.objects.filter(resident=user).order_by("-created_at", "-id")


def access_feedback_for_resident(*, user: User, feedback_id: int) -> Feedback:
    """The resident's own feedback; someone else's is the same 404 as a missing one."""
    feedback = Feedback.objects.filter(pk=feedback_id, resident=user).first()
    if feedback is None:
        raise ApiError("not_found", status_code=404)
    return feedback


def feedback_inbox(*, status: str | None = None, category: str | None = None) -> QuerySet[Feedback]:
    rows = Feedback.objects.select_related("resident", "resident__district", "replied_by")
    if status:
        rows = rows.filter(status=status)
    if category:
        rows = rows.filter(category=category)
    return rows.order_by("-created_at", "-id")


def access_feedback_for_staff(*, feedback_id: int) -> Feedback:
    feedback = feedback_inbox().filter(pk=feedback_id).first()
    if feedback is None:
        raise ApiError("not_found", status_code=404)
    return feedback


def feedback_counts() -> dict[str, int]:
    counts = {status: 0 for status in Feedback.Status.values}
    for row in Feedback.objects.values("status").order_by().annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts
