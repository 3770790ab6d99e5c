"""The data platform's widgets on the staff dashboard. They read the daily fact tables only, never
raw events (one aggregate query each, whatever the data size); counts of people are suppressed below
the municipality's threshold by the dashboard itself (charts) or here (stats)."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum

from accounts.roles import Role
from admin_console.dashboard import Bar, Chart, DashboardContext, Stat, dashboard_chart, dashboard_stat

from .models import ActiveResidentsFact, PushFact, UsageFact
from .privacy import suppress

TOP_MINIAPPS = 10


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
    total = ActiveResidentsFact.objects.filter(day=ctx.today - timedelta(days=1)).aggregate(
        n=Sum("active_residents"))["n"] or 0
    shown = suppress(total, ctx.privacy_threshold)
    return Stat(value=shown, unit="人", note="" if shown is not None or not total else "秘匿 / Suppressed")


@dashboard_stat("analytics_push_opened_30d", title="プッシュ通知の開封（過去30日） / Push notifications opened (30 days)",
                roles=(Role.ANALYST,), order=31)
def push_opened(ctx: DashboardContext) -> Stat:
    totals = PushFact.objects.filter(day__gte=ctx.today - timedelta(days=30), day__lte=ctx.today).aggregate(
        opened=Sum("opened"), sent=Sum("sent"))
    opened = suppress(totals["opened"] or 0, ctx.privacy_threshold)
    sent = suppress(totals["sent"] or 0, ctx.privacy_threshold)
    note = f"送信 / Sent: {sent:,}" if sent is not None else "送信数は秘匿 / Sent: suppressed"
    return Stat(value=opened, unit="人", note=note)


@dashboard_chart("analytics_miniapp_opens_30d", title="ミニアプリの起動回数（過去30日） / Mini-app opens (30 days)",
                 roles=(Role.ANALYST,), order=210)
def miniapp_opens(ctx: DashboardContext) -> Chart:
    rows = (UsageFact.objects.filter(day__gte=ctx.today - timedelta(days=30), day__lt=ctx.today)
            .values("miniapp_id").annotate(opens=Sum("opens")).order_by("-opens", "miniapp_id")[:TOP_MINIAPPS])
    bars = [Bar(label=_miniapp_name(row["miniapp_id"]), value=row["opens"]) for row in rows]
    return Chart(bars=bars, unit="回", value_label="起動回数 / Opens", category_label="ミニアプリ / Mini-app",
                 caption="夜間に作り直す日次集計から / From the nightly daily aggregates.")


@dashboard_chart("analytics_active_by_age", title="年代別アクティブ住民（前日） / Active residents by age (yesterday)",
                 roles=(Role.ANALYST,), order=211)
def active_by_age(ctx: DashboardContext) -> Chart:
    rows = (ActiveResidentsFact.objects.filter(day=ctx.today - timedelta(days=1)).values("age_band")
            .annotate(n=Sum("active_residents")).order_by("age_band"))
    bars = [Bar(label=_age_label(row["age_band"]), value=row["n"]) for row in rows]
    return Chart(bars=bars, unit="人", value_label="住民数 / Residents", category_label="年代 / Age band",
                 caption="夜間に作り直す日次集計から / From the nightly daily aggregates.")


# The same two charts on the console's 集計 page (suppressed there by the page, as the dashboard does).
CHARTS = (
    ("analytics_miniapp_opens_30d", "ミニアプリの起動回数（過去30日） / Mini-app opens (30 days)", miniapp_opens),
    ("analytics_active_by_age", "年代別アクティブ住民（前日） / Active residents by age (yesterday)", active_by_age),
)
