"""Reads for accounts."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from .models import AuditEvent, District, StaffTotp, User
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


# --- Staff (console) ----------------------------------------------------------------------------
def staff_list() -> QuerySet[User]:
    """Staff accounts with their roles and whether two-factor is on, for one page of the list."""
    return (User.objects.filter(kind=User.Kind.STAFF).select_related("totp")
            .prefetch_related("groups").order_by("-is_active", "username"))


def access_staff(*, id: int) -> User:
    """A staff member of this municipality; the same 404 for a resident's id or a missing one."""
    user = User.objects.filter(pk=id, kind=User.Kind.STAFF).select_related("totp").prefetch_related("groups").first()
    if user is None:
        raise Http404
    return user


def staff_totp_device(user: User) -> StaffTotp | None:
    return StaffTotp.objects.filter(user=user).first()


def staff_has_totp(user: User) -> bool:
    return StaffTotp.objects.filter(user=user, confirmed_at__isnull=False).exists()


def staff_choices() -> QuerySet[User]:
    return User.objects.filter(kind=User.Kind.STAFF).order_by("username").only("id", "username", "display_name")


# --- Audit log ----------------------------------------------------------------------------------
def _start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))  # midnight in Asia/Tokyo


def audit_events(*, actor_id: int | None = None, action: str = "", date_from: date | None = None,
                 date_to: date | None = None) -> QuerySet[AuditEvent]:
    """Audit rows, newest first. `action` matches a prefix ("staff." finds every staff action);
    dates are whole days in the municipality's time zone, both ends included."""
    events = AuditEvent.objects.select_related("actor")
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if action:
        events = events.filter(action__startswith=action)
    if date_from is not None:
        events = events.filter(created_at__gte=_start_of_day(date_from))
    if date_to is not None:
        events = events.filter(created_at__lt=_start_of_day(date_to + timedelta(days=1)))
    return events.order_by("-created_at", "-id")


def audit_action_names() -> list[str]:
    """Every distinct action in the log, in one query that walks the action index (a "loose index
    scan") instead of reading every row: fast on millions of rows with a few dozen actions."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH RECURSIVE names(action) AS (
                (SELECT action FROM {table} ORDER BY action LIMIT 1)
                UNION ALL
                SELECT (SELECT action FROM {table} WHERE action > names.action ORDER BY action LIMIT 1)
                FROM names WHERE names.action IS NOT NULL
            )
            SELECT action FROM names WHERE action IS NOT NULL""")
        return [row[0] for row in cursor.fetchall()]


# --- Residents in aggregate (dashboards) ----------------------------------------------------------
_ACTIVE_RESIDENTS = Q(kind=User.Kind.RESIDENT, is_active=True)


@dataclass(frozen=True)
class ResidentAggregate:
    total: int
    by_district: dict[int | None, int]  # district id (None: chose none) → active residents
    by_birth_year: dict[int | None, int]  # birth year (None: not given) → active residents


def resident_aggregate() -> ResidentAggregate:
    """Active residents counted by district and birth year in one pass over the residents (one
    query, at most districts × years rows): the dashboard's charts and totals all come from it."""
    rows = (User.objects.filter(_ACTIVE_RESIDENTS).values_list("district_id", "birth_year")
            .annotate(n=Count("*")).order_by())  # COUNT(*), not COUNT(id): the index alone answers it
    total, by_district, by_birth_year = 0, defaultdict(int), defaultdict(int)
    for district_id, birth_year, n in rows:
        total += n
        by_district[district_id] += n
        by_birth_year[birth_year] += n
    return ResidentAggregate(total, dict(by_district), dict(by_birth_year))
