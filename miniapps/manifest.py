"""The mini-app manifest: a built-in mini-app is a Django app whose AppConfig subclasses
`MiniAppConfig` and declares who it is, where it sits on the home screen and where its URLs mount.

    class GarbageConfig(MiniAppConfig):
        name = "miniapps.garbage"
        label = "miniapps_garbage"
        miniapp_id = "garbage"
        name_ja, name_en = "ごみカレンダー", "Garbage calendar"
        description_ja, description_en = "収集日と分別", "Collection days and sorting"
        category = Category.LIFE
        icon = "delete"
        api_mount = "garbage/"             # <name>.api.urls at /api/v1/garbage/
        staff_api_mount = "garbage/"       # <name>.api.staff_urls at /api/v1/staff/garbage/
        console_mount = "garbage/"         # <name>.console.urls at /console/garbage/
        staff_roles = (Role.MUNICIPALITY_ADMIN,)
        default_enabled = True

`manifest_from_config` checks every field and returns a frozen `Manifest`, or raises
`ManifestError` listing every problem at once; the registry turns that into a start-up failure.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from accounts.roles import ALL_ROLES


class Category(models.TextChoices):
    """The six home-screen categories, in the order the home screen shows them."""

    LIFE = "life", "生活 / Life"
    CHILDCARE_EDUCATION = "childcare_education", "子育て・教育 / Childcare & education"
    HEALTH = "health", "健康 / Health"
    COMMUNITY = "community", "地域 / Community"
    CITY_HALL = "city_hall", "市役所 / City hall"
    TOURISM_EVENTS = "tourism_events", "観光・イベント / Tourism & events"


CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    choice.value: tuple(part.strip() for part in choice.label.split(" / ", 1)) for choice in Category
}

MINIAPP_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
MINIAPP_ID_MAX_LENGTH = 50
ICON_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MOUNT_RE = re.compile(r"^(?:[a-z0-9]+(?:-[a-z0-9]+)*/)+$")

# Ids the framework's own URLs use under /api/v1/miniapps/ and /api/v1/staff/miniapps/.
RESERVED_IDS = frozenset({"keys", "order", "catalog", "shared", "new"})
# Prefixes the platform itself serves; a mini-app may not mount over them.
RESERVED_API_MOUNTS = frozenset({"me/", "residents/", "districts/", "auth/", "staff/", "miniapps/", "usage/",
                                 "citizen-id/"})
RESERVED_STAFF_API_MOUNTS = frozenset({"districts/", "miniapps/", "external-miniapps/", "shared-catalog/",
                                       "home-layout/", "usage/", "citizen-id/"})
RESERVED_CONSOLE_MOUNTS = frozenset({"login/", "logout/", "districts/", "miniapps/", "notifications/"})


class ManifestError(ImproperlyConfigured):
    pass


@dataclass(frozen=True)
class Manifest:
    """A validated mini-app manifest (what the registry keeps)."""

    id: str
    app_label: str
    app_name: str
    name_ja: str
    name_en: str
    description_ja: str
    description_en: str
    category: str
    icon: str
    api_mount: str | None
    api_urls: str | None
    staff_api_mount: str | None
    staff_api_urls: str | None
    console_mount: str | None
    console_urls: str | None
    staff_roles: tuple[str, ...]
    default_enabled: bool
    order: int

    @property
    def api_path(self) -> str | None:
        """Where the resident app finds this mini-app's API, relative to the host."""
        return f"/api/v1/{self.api_mount}" if self.api_mount else None

    @property
    def console_path(self) -> str | None:
        return f"/console/{self.console_mount}" if self.console_mount else None


class MiniAppConfig(AppConfig):
    """Base class of a built-in mini-app's AppConfig; the class attributes are its manifest."""

    # Django picks the one AppConfig subclass found in an app's apps.py; this base class, imported
    # there, must not count as a candidate, while every subclass must.
    default = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "default" not in cls.__dict__:
            cls.default = True

    miniapp_id: str = ""
    name_ja: str = ""
    name_en: str = ""
    description_ja: str = ""
    description_en: str = ""
    category: str = ""
    icon: str = ""
    # URL mounts (a path prefix ending in "/", or None). The URL modules default to the app's
    # `api/urls.py`, `api/staff_urls.py` and `console/urls.py`; set *_urls to override.
    api_mount: str | None = None
    api_urls: str | None = None
    staff_api_mount: str | None = None
    staff_api_urls: str | None = None
    console_mount: str | None = None
    console_urls: str | None = None
    # Staff roles that may use this mini-app's staff API and console pages (municipality admins always can).
    staff_roles: tuple[str, ...] = ()
    # Whether a municipality gets it switched on before its staff decide.
    default_enabled: bool = True
    # Default position in the catalog (lower first) until staff reorder.
    order: int = 100

    def manifest(self) -> Manifest:
        return manifest_from_config(self)


def _urls_module(problems: list[str], field: str, module: str | None, mount: str | None) -> str | None:
    if mount is None:
        if module is not None:
            problems.append(f"{field}: set, but there is no mount for it")
        return None
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        problems.append(f"{field}: cannot import {module!r} ({exc})")
        return module
    if not isinstance(getattr(imported, "urlpatterns", None), (list, tuple)):
        problems.append(f"{field}: {module!r} has no urlpatterns list")
    return module


def _mount(problems: list[str], field: str, value: object, reserved: frozenset[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not MOUNT_RE.match(value):
        problems.append(f"{field}: {value!r} must be a path prefix such as 'garbage/' "
                        "(lowercase letters, digits and hyphens, ending in '/')")
        return None
    if value in reserved:
        problems.append(f"{field}: {value!r} is used by the platform itself (reserved: {', '.join(sorted(reserved))})")
    return value


def _text(problems: list[str], field: str, value: object, *, max_length: int, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        problems.append(f"{field}: must be a non-empty string" if required else f"{field}: must be a string")
        return ""
    if len(value) > max_length:
        problems.append(f"{field}: at most {max_length} characters (has {len(value)})")
    return value.strip()


def manifest_from_config(config: AppConfig) -> Manifest:
    """Validates the manifest a MiniAppConfig declares; raises ManifestError naming every problem."""
    problems: list[str] = []
    miniapp_id = config.miniapp_id
    if not isinstance(miniapp_id, str) or not MINIAPP_ID_RE.match(miniapp_id) or len(miniapp_id) > MINIAPP_ID_MAX_LENGTH:
        problems.append(f"miniapp_id: {miniapp_id!r} must be lowercase letters, digits and single hyphens, "
                        f"starting with a letter, at most {MINIAPP_ID_MAX_LENGTH} characters")
    elif miniapp_id in RESERVED_IDS:
        problems.append(f"miniapp_id: {miniapp_id!r} is reserved ({', '.join(sorted(RESERVED_IDS))})")
    name_ja = _text(problems, "name_ja", config.name_ja, max_length=60)
    name_en = _text(problems, "name_en", config.name_en, max_length=60)
    description_ja = _text(problems, "description_ja", config.description_ja, max_length=500)
    description_en = _text(problems, "description_en", config.description_en, max_length=500)
    if config.category not in Category.values:
        problems.append(f"category: {config.category!r} is not one of {', '.join(Category.values)}")
    if not isinstance(config.icon, str) or not ICON_NAME_RE.match(config.icon):
        problems.append(f"icon: {config.icon!r} must be an icon name such as 'delete' or 'school' "
                        "(lowercase letters, digits, '_' and '-')")
    api_mount = _mount(problems, "api_mount", config.api_mount, RESERVED_API_MOUNTS)
    staff_api_mount = _mount(problems, "staff_api_mount", config.staff_api_mount, RESERVED_STAFF_API_MOUNTS)
    console_mount = _mount(problems, "console_mount", config.console_mount, RESERVED_CONSOLE_MOUNTS)
    api_urls = _urls_module(problems, "api_urls", config.api_urls or (f"{config.name}.api.urls" if api_mount else None),
                            api_mount)
    staff_api_urls = _urls_module(
        problems, "staff_api_urls",
        config.staff_api_urls or (f"{config.name}.api.staff_urls" if staff_api_mount else None), staff_api_mount)
    console_urls = _urls_module(
        problems, "console_urls", config.console_urls or (f"{config.name}.console.urls" if console_mount else None),
        console_mount)
    roles = config.staff_roles
    if isinstance(roles, str) or not isinstance(roles, (list, tuple)):
        problems.append(f"staff_roles: must be a tuple of role names, not {roles!r}")
        roles = ()
    unknown_roles = [role for role in roles if role not in ALL_ROLES]
    if unknown_roles:
        problems.append(f"staff_roles: unknown roles {', '.join(map(repr, unknown_roles))} "
                        f"(known: {', '.join(ALL_ROLES)})")
    if not isinstance(config.default_enabled, bool):
        problems.append(f"default_enabled: must be True or False, not {config.default_enabled!r}")
    if isinstance(config.order, bool) or not isinstance(config.order, int) or not 0 <= config.order <= 100_000:
        problems.append(f"order: must be an integer from 0 to 100000, not {config.order!r}")
    if problems:
        raise ManifestError(
            f"Mini-app manifest {type(config).__module__}.{type(config).__qualname__} (app {config.name!r}) "
            f"is invalid:\n" + "\n".join(f"  - {problem}" for problem in problems))
    return Manifest(
        id=miniapp_id, app_label=config.label, app_name=config.name, name_ja=name_ja, name_en=name_en,
        description_ja=description_ja, description_en=description_en, category=config.category, icon=config.icon,
        api_mount=api_mount, api_urls=api_urls, staff_api_mount=staff_api_mount, staff_api_urls=staff_api_urls,
        console_mount=console_mount, console_urls=console_urls, staff_roles=tuple(roles),
        default_enabled=config.default_enabled, order=config.order,
    )
