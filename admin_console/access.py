"""Role checks for console views: every view declares the roles it needs."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from accounts.selectors import user_has_role, user_role_names


def staff_required(*roles: str):
    """Signed-in staff holding any of `roles` (none given: any staff role). Anonymous → login page;
    signed in without the role → 403, on the page and on its form posts alike."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated or getattr(user, "kind", None) != "staff":
                return redirect_to_login(request.get_full_path())
            allowed = user_has_role(user, *roles) if roles else bool(user_role_names(user))
            if not allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator
