"""The dashboard's registry: apps contribute figures ("stats") and bar charts to /console/dashboard/.

How an app adds its own (notifications: active devices; citizen_id: verified IDs; miniapps: ranking):

    # <your_app>/console_dashboard.py — imported at start-up for every installed app
    from admin_console.dashboard import Bar, Chart, Stat, dashboard_chart, dashboard_stat
    from accounts.roles import Role

    @dashboard_stat("devices", title=_("有効な端末"), roles=(Role.ANALYST,), order=20)
    def active_devices(ctx):
        return Stat(value=Device.objects.filter(active=True).count(), unit=_("台"))

    @dashboard_chart("miniapp_ranking", title=_("ミニアプリ利用（30日）"), roles=(Role.ANALYST,), order=200)
    def ranking(ctx):
        rows = ...  # one aggregate query
        return Chart(bars=[Bar(label=name, value=clicks) for name, clicks in rows], unit=_("回"),
                     value_label=_("クリック数"))

Rules for a widget: a constant number of queries whatever the data size (the dashboard's
query-count test covers every registered widget; share a query between widgets with
`ctx.shared(key, compute)`; slow ones may set `cache_seconds`), aggregates only, and counts of people go through
`suppress_small_counts(bars, ctx.privacy_threshold)` (Chart does it when `person_counts=True`, the
default). `roles` are checked on top of the dashboard section's own roles; municipality admins see all.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from django.core.cache import cache
from django.utils import timezone

from accounts.selectors import user_has_role


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | None  # None: suppressed (a small count of people)
    suppressed: bool = False
    note: str = ""


@dataclass(frozen=True)
class Stat:
    value: int | None
    unit: str = ""
    note: str = ""


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    unit: str = ""
    value_label: str = ""
    category_label: str = ""
    caption: str = ""
    person_counts: bool = True  # counts of people: small cells are suppressed


@dataclass(frozen=True)
class DashboardContext:
    user: object
    municipality: object
    privacy_threshold: int
    today: date
    _shared: dict = field(default_factory=dict, repr=False)

    def shared(self, key: str, compute: Callable[[], object]):
        """One computation per page for data several widgets use (e.g. one aggregate query that
        feeds a total and two charts)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]


@dataclass(frozen=True)
class Widget:
    key: str
    title: str
    kind: str  # "stat" or "chart"
    build: Callable[[DashboardContext], Stat | Chart]
    roles: tuple[str, ...] = ()
    order: int = 100
    description: str = ""
    # > 0: the result is kept this long in the (per-municipality) cache, for widgets whose query is
    # costly and whose figure may lag a little (e.g. ranking over a month of usage events).
    cache_seconds: int = 0


@dataclass(frozen=True)
class RenderedWidget:
    widget: Widget
    result: Stat | Chart = field(repr=False)


_registry: dict[str, Widget] = {}


def register(widget: Widget) -> Widget:
    if widget.kind not in ("stat", "chart"):
        raise ValueError(f"widget kind must be 'stat' or 'chart', not {widget.kind!r}")
    existing = _registry.get(widget.key)
    if existing is not None and existing.build is not widget.build:
        raise ValueError(f"dashboard widget {widget.key!r} is already registered")
    _registry[widget.key] = widget
    return widget


def unregister(key: str) -> None:
    _registry.pop(key, None)


def _decorator(kind: str, key: str, *, title: str, roles: tuple[str, ...] = (), order: int = 100,
               description: str = "", cache_seconds: int = 0):
    def decorator(build: Callable[[DashboardContext], Stat | Chart]):
        register(Widget(key=key, title=title, kind=kind, build=build, roles=tuple(roles), order=order,
                        description=description, cache_seconds=cache_seconds))
        return build

    return decorator


def dashboard_stat(key: str, **kwargs):
    return _decorator("stat", key, **kwargs)


def dashboard_chart(key: str, **kwargs):
    return _decorator("chart", key, **kwargs)


def registered_widgets() -> list[Widget]:
    return sorted(_registry.values(), key=lambda widget: (widget.order, widget.key))


def suppress_small_counts(bars: list[Bar], threshold: int) -> list[Bar]:
    """Hides counts of people between 1 and threshold-1 (primary suppression). When exactly one
    cell is hidden, the next smallest non-zero cell is hidden too (complementary suppression), so
    the hidden value cannot be worked out from the total shown elsewhere. Zeros stay visible."""
    if threshold <= 1:
        return list(bars)
    hidden = {index for index, bar in enumerate(bars) if bar.value is not None and 0 < bar.value < threshold}
    if len(hidden) == 1:
        candidates = [(bar.value, index) for index, bar in enumerate(bars)
                      if index not in hidden and bar.value is not None and bar.value > 0]
        if candidates:
            hidden.add(min(candidates)[1])
    return [replace(bar, value=None, suppressed=True) if index in hidden else bar for index, bar in enumerate(bars)]


def build_dashboard(*, user, municipality) -> list[RenderedWidget]:
    threshold = int(municipality.setting("privacy_threshold") or 0)
    ctx = DashboardContext(user=user, municipality=municipality, privacy_threshold=threshold,
                           today=timezone.localdate())
    rendered = []
    for widget in registered_widgets():
        if widget.roles and not user_has_role(user, *widget.roles):
            continue
        if widget.cache_seconds > 0:  # the cache key carries the schema: never shared across municipalities
            result = cache.get_or_set(f"console-dashboard:{widget.key}", lambda: widget.build(ctx),
                                      widget.cache_seconds)
        else:
            result = widget.build(ctx)
        if isinstance(result, Chart) and result.person_counts:
            result = replace(result, bars=suppress_small_counts(result.bars, threshold))
        rendered.append(RenderedWidget(widget, result))
    return rendered


def autodiscover() -> None:
    """Imports `<app>.console_dashboard` for every installed app (called from AppConfig.ready)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("console_dashboard")
