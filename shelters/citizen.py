"""Seam to the citizen ID (市民証) QR: turns a scanned QR token into an evacuee."""
from __future__ import annotations

from superapp.api.errors import ApiError

from .services import Evacuee


def evacuee_from_qr(*, token: str, acting_user, allow_expired: bool = False) -> Evacuee:
    raise ApiError("qr_check_in_unavailable", status_code=503)
