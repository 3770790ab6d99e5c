"""Reads for the digital citizen ID, each scoped to who asks: the same 404 for "missing" and "not yours"."""
from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import AuditEvent, User
from superapp.api.errors import ApiError

from .models import CardQr, CitizenId


def _not_found() -> ApiError:
    return ApiError("not_found", status_code=404, message="市民証が見つかりません。", message_en="No citizen ID found.")


def access_own_citizen_id(*, user: User) -> CitizenId:
    """The resident's live (active or suspended) citizen ID."""
    citizen = CitizenId.objects.filter(user=user).exclude(status=CitizenId.Status.REVOKED).first()
    if citizen is None:
        raise _not_found()
    return citizen


def access_citizen_id_by_reference(*, reference: str) -> CitizenId:
    """For staff of this municipality (the schema scopes it); revoked IDs are still found."""
    citizen = CitizenId.objects.filter(reference=reference).first()
    if citizen is None:
        raise _not_found()
    return citizen


def access_card_qr(*, card_id: int) -> CardQr:
    card = CardQr.objects.select_related("citizen").filter(pk=card_id).first()
    if card is None:
        raise ApiError("not_found", status_code=404)
    return card


def citizen_scan_history(*, citizen: CitizenId) -> QuerySet[AuditEvent]:
    """Every staff scan of this citizen ID, newest first (from the audit log)."""
    return AuditEvent.objects.filter(action="citizen_id.scanned", target_type="CitizenId",
                                     target_id=str(citizen.pk)).order_by("-created_at", "-id")


def card_qrs_of(*, citizen: CitizenId) -> QuerySet[CardQr]:
    return CardQr.objects.filter(citizen=citizen)
