"""DRF permission classes for residents and staff roles."""
from __future__ import annotations

from rest_framework.permissions import BasePermission

from .models import User
from .selectors import user_has_role, user_role_names


class IsResident(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.kind == User.Kind.RESIDENT)


def HasRole(*roles: str) -> type[BasePermission]:
    """Permission class for staff holding any of `roles` (municipality admins always pass)."""

    class _HasRole(BasePermission):
        required_roles = roles

        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.is_authenticated and user_has_role(request.user, *roles))

    _HasRole.__name__ = f"HasRole_{'_'.join(roles) or 'staff'}"
    return _HasRole


class IsAnyStaff(BasePermission):
    """Any active staff member with at least one role."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and user_role_names(request.user))
