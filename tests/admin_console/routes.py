"""Every console route with what a test needs to call it: arguments, a form post, and who may use it.

The role and cross-tenant tests run over this table; `test_every_console_route_is_covered` fails
when a route is added to admin_console/urls.py without an entry here (or without a section)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import URLPattern, reverse

from accounts.models import District, User
from accounts.roles import ALL_ROLES, Role
from admin_console import urls as console_urls
from admin_console.access import SECTIONS_BY_KEY
from tests.base import TenantFixture

# Routes open to anyone (they sign people in or carry their own one-time token).
PUBLIC_ROUTES = {"login", "login_verify", "logout", "set_language", "set_password"}


@dataclass(frozen=True)
class Route:
    name: str
    args: Callable[[TenantFixture], list] = lambda tenant: []
    post: dict | None = None  # form data of the route's form post; None: no form
    get: bool = True  # answers GET (POST-only routes answer 405 to allowed users)
    extra: dict = field(default_factory=dict)
    # Narrower than the section, when the object decides (a notification's topic: its senders).
    roles: tuple[str, ...] | None = None

    def path(self, tenant: TenantFixture) -> str:
        with tenant.schema():
            return reverse(f"console:{self.name}", args=self.args(tenant))

    @property
    def section(self) -> str:
        return _callback(self.name).console_section

    def allowed(self, who: str) -> bool:
        """Whether `who` ("admin" or a role) may use it, from the declared sections."""
        roles = self.roles if self.roles is not None else SECTIONS_BY_KEY[self.section].roles
        return who == "admin" or not roles or who in roles


def _a_district(tenant: TenantFixture) -> list:
    district, _ = District.objects.get_or_create(name="ルート確認校区", defaults={"sort_order": 99})
    return [district.pk]


def _a_staff_member(tenant: TenantFixture) -> list:
    return [tenant.staff["analyst"].pk]


def _an_invited_member(tenant: TenantFixture) -> list:
    user, created = User.objects.get_or_create(username="invited@example.jp",
                                               defaults={"kind": User.Kind.STAFF, "is_staff": True,
                                                         "email": "invited@example.jp"})
    if created:
        user.set_unusable_password()
        user.save()
    return [user.pk]


def _a_shelter(tenant: TenantFixture) -> list:
    from shelters.models import Shelter

    shelter, _ = Shelter.objects.get_or_create(name="ルート確認避難所", defaults={"address": "佐賀市", "capacity": 10})
    return [shelter.pk]


def _a_disaster(tenant: TenantFixture) -> list:
    from shelters.models import Disaster

    disaster, _ = Disaster.objects.get_or_create(name="ルート確認災害", defaults={"type": "flood"})
    return [disaster.pk]


def _a_notification(tenant: TenantFixture, *, scheduled: bool = False) -> list:
    """A disaster notification to the route-check district (and a resident there), sent now or
    scheduled for tomorrow."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import resident_create
    from notifications.models import Notification
    from notifications.services import notification_create

    title = "ルート確認予約" if scheduled else "ルート確認通知"
    existing = Notification.objects.filter(title=title).values_list("pk", flat=True).first()
    if existing:
        return [existing]
    district = District.objects.get(pk=_a_district(tenant)[0])
    if not User.objects.filter(district=district, kind=User.Kind.RESIDENT).exists():
        resident_create(nickname="ルート確認住民", district=district)
    notification = notification_create(
        acting_user=tenant.admin, title=title, body="確認用", topic="disaster", audience={"districts": [district.pk]},
        send_at=timezone.now() + timedelta(days=1) if scheduled else None)
    return [notification.pk]


def _notifications_exist(tenant: TenantFixture) -> list:
    _a_notification(tenant)
    return []


def _a_scheduled_notification(tenant: TenantFixture) -> list:
    return _a_notification(tenant, scheduled=True)


COMPOSE_POST = {"title": "ルート確認", "body": "本文", "topic": "disaster", "audience": "filtered",
                "interests": "route-check", "when": "now", "action": "send"}

ROUTES = [
    Route("home"),
    Route("account", post={"action": "begin"}),
    Route("dashboard"),
    Route("districts", post={"name": "ルート校区"}),
    Route("district_edit", args=_a_district, post={"name": "ルート確認校区（改）"}),
    Route("staff_list"),
    Route("staff_invite", post={"email": "route-invite@example.jp", "roles": ["teacher"]}),
    Route("staff_detail", args=_a_staff_member, post={"roles": ["analyst", "teacher"]}),
    Route("staff_deactivate", args=_a_staff_member, post={}, get=False),
    Route("staff_reactivate", args=_a_staff_member, post={}, get=False),
    Route("staff_resend_invite", args=_an_invited_member, post={}, get=False),
    Route("staff_reset_2fa", args=_a_staff_member, post={}, get=False),
    Route("audit"),
    Route("shelters"),
    Route("disaster_control", post={"action": "open_disaster", "name": "ルート災害", "type": "flood"}),
    Route("disaster_report", args=_a_disaster),
    Route("shelter_reception", args=_a_shelter, post={"action": "manual", "name": "ルート避難者"}),
    Route("notifications", args=_notifications_exist),
    Route("notification_compose", post=COMPOSE_POST),
    Route("notification_audience_size", post={"topic": "disaster", "audience": "everyone"}, get=False),
    Route("notification_detail", args=_a_notification),
    # Cancelling: the senders of the notification's topic (disaster) only; other senders get 403.
    Route("notification_cancel", args=_a_scheduled_notification, post={}, get=False,
          roles=(Role.DISASTER_STAFF,)),
    Route("miniapps"),
    Route("miniapp_toggle", args=lambda tenant: ["garbage"], post={"enabled": "0"}, get=False),
    Route("miniapp_move", args=lambda tenant: ["garbage"], post={"direction": "down"}, get=False),
]
ROUTES_BY_NAME = {route.name: route for route in ROUTES}
WHO = ["admin", *[role for role in ALL_ROLES if role != "municipality_admin"]]


def _callback(name: str):
    for pattern in console_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name == name:
            return pattern.callback
    raise KeyError(name)


def console_route_names() -> set[str]:
    return {pattern.name for pattern in console_urls.urlpatterns if isinstance(pattern, URLPattern)}
