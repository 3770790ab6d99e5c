"""Reads over municipalities (public schema)."""
from __future__ import annotations

from django.db.models import QuerySet

from .models import Municipality


def municipality_directory() -> QuerySet[Municipality]:
    return Municipality.objects.filter(status=Municipality.Status.ACTIVE).prefetch_related("domains").order_by("code")
