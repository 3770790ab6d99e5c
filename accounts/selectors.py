"""Reads for accounts."""
from __future__ import annotations

from django.db.models import QuerySet

from .models import District, User
from .roles import Role


def district_list() -> QuerySet[District]:
    return District.objects.all()


def user_role_names(user: User) -> frozenset[str]:
    """The user's staff roles, memoised on the instance for the request."""
    if not user.is_authenticated or getattr(user, "kind", None) != User.Kind.STAFF or not user.is_active:
        return frozenset()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return cached


def user_has_role(user: User, *roles: str) -> bool:
    """A municipality admin holds every staff role."""
    names = user_role_names(user)
    return Role.MUNICIPALITY_ADMIN in names or any(role in names for role in roles)
