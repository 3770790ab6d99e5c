"""The data platform on the staff dashboard (three figures) and its own charts (on the console's
集計 page). Everything reads the daily fact tables only, never raw events, one aggregate query per
figure; the raw figures stay in the (tenant-keyed) cache until the facts are rebuilt
(`facts_changed`), so a view costs no query at all between rebuilds. Counts are suppressed with the
municipality's current threshold on every view, never in the cache."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum

from accounts.roles import Role
from admin_console.dashboard import Bar, Chart, DashboardContext, Stat, dashboard_stat, suppress_small_counts

from .models import ActiveResidentsFact, PushFact, UsageFact
from .privacy import suppress

TOP_MINIAPPS = 10
GENERATION_KEY = "analytics:facts-generation"


def facts_changed() -> None:
    """Called after every fact rebuild: the cached figures of this municipality are stale."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 1, None)


def _figures(name: str, ctx: DashboardContext, compute):
    generation = cache.get_or_set(GENERATION_KEY, 0, None)
    key = f"analytics:dashboard:{generation}:{name}:{ctx.today.isoformat()}"
    return cache.get_or_set(key, compute, settings.ANALYTICS_DASHBOARD_CACHE_SECONDS)


def _miniapp_name(miniapp_id: str) -> str:
    try:
        from miniapps.registry import registry
    except ImportError:  # pragma: no cover - the mini-app framework is part of the platform
        return miniapp_id
    manifest = registry.get(miniapp_id)
    return manifest.name_ja if manifest is not None else miniapp_id


def _age_label(lower: int | None) -> str:
    if lower is None:
        return "不明 / Unknown"
    return "80歳以上 / 80+" if lower >= 80 else f"{lower}〜{lower + 9}歳 / {lower}-{lower + 9}"


@dashboard_stat("analytics_active_yesterday", title="アクティブ住民（前日） / Active residents (yesterday)",
                roles=(Role.ANALYST,), order=30, description="いずれかのミニアプリを使った住民 / Used any mini-app")
def active_yesterday(ctx: DashboardContext) -> Stat:
    total = _figures("active_yesterday", ctx, lambda: ActiveResidentsFact.objects.filter(
        day=ctx.today - timedelta(days=1)).aggregate(n=Sum("active_residents"))["n"] or 0)
    shown = suppress(total, ctx.privacy_threshold)
    return Stat(value=shown, unit="人", note="" if shown is not None or not total else "秘匿 / Suppressed")


@dashboard_stat("analytics_push_opened_30d", title="プッシュ通知の開封（過去30日） / Push notifications opened (30 days)",
                roles=(Role.ANALYST,), order=31)
def push_opened(ctx: DashboardContext) -> Stat:
    totals = _figures("push_30d", ctx, lambda: PushFact.objects.filter(
        day__gte=ctx.today - timedelta(days=30), day__lte=ctx.today).aggregate(opened=Sum("opened"), sent=Sum("sent")))
    opened = suppress(totals["opened"] or 0, ctx.privacy_threshold)
    sent = suppress(totals["sent"] or 0, ctx.privacy_threshold)
    note = f"送信 / Sent: {sent:,}" if sent is not None else "送信数は秘匿 / Sent: suppressed"
    return Stat(value=opened, unit="人", note=note)


@dashboard_stat("analytics_opens_30d", title="ミニアプリの起動（過去30日） / Mini-app opens (30 days)",
                roles=(Role.ANALYST,), order=32)
def opens_30d(ctx: DashboardContext) -> Stat:
    rows = _opens_by_miniapp(ctx)
    total = suppress(sum(opens for _, opens in rows), ctx.privacy_threshold)
    top = next(((miniapp_id, opens) for miniapp_id, opens in rows if suppress(opens, ctx.privacy_threshold)), None)
    note = f"最多 / Most used: {_miniapp_name(top[0])}" if top else ""
    return Stat(value=total, unit="回", note=note)


# --- Charts of the 集計 page (the console's bar charts, same suppression as the dashboard) --------
def _opens_by_miniapp(ctx: DashboardContext) -> list[tuple[str, int]]:
    return _figures("opens_30d", ctx, lambda: list(
        UsageFact.objects.filter(day__gte=ctx.today - timedelta(days=30), day__lt=ctx.today)
        .values_list("miniapp_id").annotate(opens=Sum("opens")).order_by("-opens", "miniapp_id")))


def miniapp_opens_chart(ctx: DashboardContext) -> Chart:
    bars = [Bar(label=_miniapp_name(miniapp_id), value=opens)
            for miniapp_id, opens in _opens_by_miniapp(ctx)[:TOP_MINIAPPS]]
    return Chart(bars=suppress_small_counts(bars, ctx.privacy_threshold), unit="回", value_label="起動回数 / Opens",
                 category_label="ミニアプリ / Mini-app", caption="過去30日 / The last 30 days")


def active_by_age_chart(ctx: DashboardContext) -> Chart:
    rows = _figures("active_by_age", ctx, lambda: list(
        ActiveResidentsFact.objects.filter(day=ctx.today - timedelta(days=1)).values_list("age_band")
        .annotate(n=Sum("active_residents")).order_by("age_band")))
    bars = [Bar(label=_age_label(age_band), value=n) for age_band, n in rows]
    return Chart(bars=suppress_small_counts(bars, ctx.privacy_threshold), unit="人", value_label="住民数 / Residents",
                 category_label="年代 / Age band", caption="前日 / Yesterday")


CHARTS = (
    ("analytics_miniapp_opens_30d", "ミニアプリの起動回数（過去30日） / Mini-app opens (30 days)", miniapp_opens_chart),
    ("analytics_active_by_age", "年代別アクティブ住民（前日） / Active residents by age (yesterday)", active_by_age_chart),
)
