"""Who may read and who may write on a district's board: the one place these rules live.

- Read: the district's members (residents whose profile names it) and community moderators.
- Write (post, comment, RSVP, thank-you): a member of that district who is a *verified* resident
  (holds an active digital citizen ID; without the citizen ID app, any signed-in member, as issue 9
  says); posting and commenting also need the member not to be suspended there.
"""
from __future__ import annotations

from django.apps import apps
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role
from accounts.selectors import user_has_role
from superapp.api.errors import ApiError

from .models import DistrictSuspension


def is_moderator(user) -> bool:
    return bool(user and user.is_authenticated and user_has_role(user, Role.COMMUNITY_MODERATOR))


def is_member(user, district_id: int) -> bool:
    return bool(user and user.is_authenticated and getattr(user, "kind", None) == User.Kind.RESIDENT
                and user.district_id is not None and user.district_id == district_id)


def can_read_district(user, district_id: int) -> bool:
    return is_member(user, district_id) or is_moderator(user)


def district_read_check(*, user, district_id: int) -> None:
    if not can_read_district(user, district_id):
        raise ApiError("not_district_member", status_code=403)


def resident_is_verified(user) -> bool:
    """True when the resident holds an active digital citizen ID (verified with the My Number Card).
    A suspended ID (card expired or revoked) does not count until the resident re-verifies. Without
    the citizen ID app installed, every signed-in member counts as verified (issue 9)."""
    if not apps.is_installed("citizen_id"):
        return True
    from citizen_id.models import CitizenId  # noqa: PLC0415  (optional app)

    return CitizenId.objects.filter(user_id=user.pk, status=CitizenId.Status.ACTIVE).exists()


# Writes a suspension bars: a suspended member may still answer events and say thank you.
CONTENT_ACTIONS = frozenset({"post", "comment"})
WRITE_ACTIONS = CONTENT_ACTIONS | {"rsvp", "thanks"}


def district_write_check(*, user, district_id: int, action: str) -> None:
    """Raises the 403 that says why `user` may not `action` on district `district_id`'s board."""
    if action not in WRITE_ACTIONS:
        raise ValueError(f"unknown community action {action!r}")
    if not is_member(user, district_id):
        raise ApiError("not_district_member", status_code=403)
    if not resident_is_verified(user):
        raise ApiError("verification_required", status_code=403)
    if action not in CONTENT_ACTIONS:
        return
    now = timezone.now()
    suspended = DistrictSuspension.objects.filter(user=user, district_id=district_id, lifted_at__isnull=True)
    if suspended.exclude(until__lte=now).exists():
        raise ApiError("suspended_in_district", status_code=403)
