"""The two consoles that share the sign-in views: a municipality's and the platform's."""
from __future__ import annotations

from accounts.models import User
from accounts.selectors import user_role_names

from .auth import Realm


def _municipality_staff(user: User) -> bool:
    # Staff without any role could open no page: they are told so at sign-in instead.
    return user.kind == User.Kind.STAFF and user.is_active and bool(user_role_names(user))


def platform_operator(user: User) -> bool:
    """Platform operators are staff users of the public schema (created by `create_platform_operator`)."""
    return bool(user.is_authenticated and user.kind == User.Kind.STAFF and user.is_staff and user.is_active)


CONSOLE = Realm(
    namespace="console",
    base_template="console/base.html",
    login_action="staff.console_login",
    may_sign_in=_municipality_staff,
    issuer=lambda request: f"{request.tenant.name} 管理画面",
)

PLATFORM = Realm(
    namespace="platform",
    base_template="platform/base.html",
    login_action="platform.operator_login",
    may_sign_in=platform_operator,
    issuer=lambda request: "Super App Platform",
)
