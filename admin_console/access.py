"""Who may use which part of the console: the one declarative map of console sections to roles.

Every console view is decorated with `section_required("<key>")`; the navigation shows a section only
to staff who may use it (and only once its page exists). A signed-in staff member without the role
gets 403 on the page and on its form posts alike; anyone not signed in goes to the login page.

To add a page: give its section an entry below (or use an existing one), decorate the view, and
mount the URL. Municipality admins hold every role (see `accounts.selectors.user_has_role`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role
from accounts.selectors import user_has_role, user_role_names

ANY_STAFF: tuple[str, ...] = ()  # any active staff member holding at least one role
# notifications/roles.py without the admin, who holds every role (kept literal: this module is
# imported before the apps' models are ready; tests/admin_console checks they agree).
NOTIFICATION_SENDER_ROLES: tuple[str, ...] = (Role.DISASTER_STAFF, Role.COMMUNITY_MODERATOR)
NOTIFICATION_STATS_ROLES: tuple[str, ...] = NOTIFICATION_SENDER_ROLES + (Role.ANALYST,)


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    roles: tuple[str, ...]
    url_name: str | None = None  # the page the navigation links to; None: not in the navigation
    description: str = ""
    # Dotted path of `predicate(user) -> bool`: also list the section in the navigation for users
    # outside `roles` whom its linked page admits on other grounds (it grants nothing by itself).
    also_listed_for: str | None = None


SECTIONS: tuple[Section, ...] = (
    Section("home", _("ホーム"), ANY_STAFF, "console:home"),
    Section("dashboard", _("ダッシュボード"), (Role.ANALYST, Role.DISASTER_STAFF), "console:dashboard",
            _("住民数、校区別・年代別の集計")),
    # Push notifications (notifications/console.py). The roles follow notifications/roles.py (a test
    # checks): the senders of some topic compose, schedule and cancel; analysts also read the
    # delivery stats. Which topics a sender may use is decided per topic by the service.
    Section("notifications", _("お知らせ配信"), NOTIFICATION_STATS_ROLES, "console:notifications",
            _("プッシュ通知の作成・予約・配信状況")),
    Section("notifications_send", _("お知らせ配信（作成・予約・取消）"), NOTIFICATION_SENDER_ROLES),
    Section("shelters", _("避難所"), (Role.DISASTER_STAFF, Role.SHELTER_STAFF), "console:shelters",
            _("避難所の状況と受付")),
    Section("disaster_control", _("災害対応"), (Role.DISASTER_STAFF,), "console:disaster_control",
            _("災害の開始・終了、避難所の開設・閉鎖、本部集計")),
    # Attendance: teachers (principals, vice principals and nurses hold the teacher role too) and the
    # board of education, a position any staff member may hold (miniapps/attendance); the overview
    # page admits every staff member and shows each what their role and position allow.
    Section("attendance", _("出欠連絡"), (Role.TEACHER,), "attendance_console:index", _("学級ごとの欠席・遅刻連絡"),
            also_listed_for="miniapps.attendance.selectors.is_board_of_education"),
    Section("community", _("地域掲示板"), (Role.COMMUNITY_MODERATOR,), "community_console:queue",
            _("投稿の確認・非表示")),
    Section("garbage", _("ごみカレンダー"), (Role.MUNICIPALITY_ADMIN,), "garbage:index",
            _("収集日の臨時変更・分別区分・粗大ごみ収集日と予約")),
    Section("miniapps", _("ミニアプリ"), (Role.MUNICIPALITY_ADMIN,), "console:miniapps",
            _("カタログの公開・非公開と並び順")),
    # Built-in mini-apps' pages (mounted from their manifests; roles = the manifest's staff_roles).
    Section("announcements", _("お知らせ"), (Role.MUNICIPALITY_ADMIN, Role.DISASTER_STAFF),
            "announcements_console:index", _("アプリのお知らせ・ポップアップの掲載")),
    Section("feedback", _("ご意見"), (Role.MUNICIPALITY_ADMIN, Role.COMMUNITY_MODERATOR), "feedback_console:inbox",
            _("住民からのご意見への回答")),
    Section("exports", _("データ出力"), (Role.ANALYST,), "analytics_console:exports", _("CSV・Parquet・Hyper 形式の出力")),
    # Municipality administration.
    Section("districts", _("校区"), (Role.MUNICIPALITY_ADMIN,), "console:districts", _("小学校区の追加・名称変更")),
    Section("staff", _("職員"), (Role.MUNICIPALITY_ADMIN,), "console:staff_list", _("招待・役割・無効化")),
    Section("audit", _("監査ログ"), (Role.MUNICIPALITY_ADMIN,), "console:audit", _("誰が・いつ・何をしたか")),
    # Every staff member's own sign-in settings.
    Section("account", _("アカウント"), ANY_STAFF, "console:account", _("2段階認証の設定")),
)
SECTIONS_BY_KEY: dict[str, Section] = {section.key: section for section in SECTIONS}


def in_language(label) -> str:
    """The part of a "日本語 / English" label (the models' choices) in the current language."""
    ja, _sep, en = str(label).partition(" / ")
    return ja if get_language() in (None, "ja") or not en else en


def role_label(role: str) -> str:
    """A role's name in the current language (Role labels are stored as "日本語 / English")."""
    try:
        return in_language(Role(role).label)
    except ValueError:
        return role


def is_console_staff(user) -> bool:
    return bool(user.is_authenticated and getattr(user, "kind", None) == User.Kind.STAFF and user.is_active)


def may_use(user, key: str) -> bool:
    section = SECTIONS_BY_KEY[key]
    if not is_console_staff(user):
        return False
    return user_has_role(user, *section.roles) if section.roles else bool(user_role_names(user))


@dataclass(frozen=True)
class NavItem:
    section: Section
    url: str


def _also_listed(section: Section, user) -> bool:
    if section.also_listed_for is None or not is_console_staff(user) or not user_role_names(user):
        return False
    return bool(import_string(section.also_listed_for)(user))


def navigation(user) -> list[NavItem]:
    """The sections this user may open, in declaration order, that have a page mounted."""
    items = []
    for section in SECTIONS:
        if section.url_name is None:
            continue
        try:
            url = reverse(section.url_name)
        except NoReverseMatch:  # the app providing the page is not installed here
            continue
        if may_use(user, section.key) or _also_listed(section, user):
            items.append(NavItem(section, url))
    return items


# --- Session freshness (idle timeout), shared with the platform console --------------------------
SESSION_SEEN_KEY = "console_seen_at"
SESSION_STARTED_KEY = "console_started_at"
_SEEN_RESOLUTION_SECONDS = 60  # refresh the idle clock at most once a minute: not a write per request


def start_console_session(request) -> None:
    now = int(time.time())
    request.session[SESSION_STARTED_KEY] = now
    request.session[SESSION_SEEN_KEY] = now
    request.session.set_expiry(settings.CONSOLE_IDLE_TIMEOUT_SECONDS)


def session_is_fresh(request) -> bool:
    """False once the session was idle longer than CONSOLE_IDLE_TIMEOUT_SECONDS or is older than
    SESSION_COOKIE_AGE; otherwise moves the idle clock (and the session's expiry) forward."""
    now = int(time.time())
    session = request.session
    started = session.get(SESSION_STARTED_KEY, now)
    seen = session.get(SESSION_SEEN_KEY, now)
    if now - seen > settings.CONSOLE_IDLE_TIMEOUT_SECONDS or now - started > settings.SESSION_COOKIE_AGE:
        return False
    if SESSION_STARTED_KEY not in session or now - seen >= _SEEN_RESOLUTION_SECONDS:
        session[SESSION_STARTED_KEY] = started
        session[SESSION_SEEN_KEY] = now
        session.set_expiry(settings.CONSOLE_IDLE_TIMEOUT_SECONDS)
    return True


def _expired_redirect(request, login_url: str):
    logout(request)
    request.session["console_notice"] = "timeout"
    return redirect_to_login(request.get_full_path(), login_url)


def section_required(key: str):
    """Signed-in, fresh staff session holding a role of section `key`. Anonymous → login page;
    signed in without the role → 403 (HTML) on every method."""
    if key not in SECTIONS_BY_KEY:
        raise ValueError(f"unknown console section {key!r}: declare it in admin_console.access.SECTIONS")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            login_url = reverse("console:login")
            if not is_console_staff(request.user):
                return redirect_to_login(request.get_full_path(), login_url)
            if not session_is_fresh(request):
                return _expired_redirect(request, login_url)
            if not may_use(request.user, key):
                raise PermissionDenied
            request.console_section = key  # the navigation marks it as the current page
            return view(request, *args, **kwargs)

        wrapped.console_section = key
        return wrapped

    return decorator


def staff_required(*roles: str):
    """Older spelling kept for pages not yet given a section: any of `roles` (none: any staff role)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            login_url = reverse("console:login")
            if not is_console_staff(request.user):
                return redirect_to_login(request.get_full_path(), login_url)
            if not session_is_fresh(request):
                return _expired_redirect(request, login_url)
            allowed = user_has_role(request.user, *roles) if roles else bool(user_role_names(request.user))
            if not allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.required_roles = roles
        return wrapped

    return decorator
