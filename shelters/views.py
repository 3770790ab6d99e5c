"""Plain pages outside the API: the link an emergency contact opens from the confirmation email."""
from __future__ import annotations

from django.shortcuts import render

from superapp.api.errors import ApiError

from .services import emergency_contact_confirm


def confirm_emergency_contact(request, token: str):
    try:
        contact = emergency_contact_confirm(token=token)
    except ApiError:
        return render(request, "shelters/contact_confirmed.html", {"ok": False}, status=404)
    return render(request, "shelters/contact_confirmed.html", {"ok": True, "contact": contact})
