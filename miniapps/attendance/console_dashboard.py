"""School attendance on the staff dashboard: today's absences across all schools and the
class-closure reviews still open (aggregates only; one query each)."""
from __future__ import annotations

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role
from admin_console.dashboard import DashboardContext, Stat, dashboard_stat

from .calendar import today_local
from .models import DailyClassCount, OutbreakAlert


@dashboard_stat("attendance_absent_today", title=_("本日の欠席連絡（全校）"), roles=(Role.ANALYST,), order=40,
                description=_("保護者からの欠席連絡の人数"))
def absent_today(ctx: DashboardContext) -> Stat:
    total = DailyClassCount.objects.filter(date=today_local()).aggregate(n=Sum("absent"))["n"] or 0
    return Stat(value=total, unit=_("人"))


@dashboard_stat("attendance_open_alerts", title=_("学級閉鎖の検討（未確認）"), roles=(Role.ANALYST,), order=41)
def open_alerts(ctx: DashboardContext) -> Stat:
    return Stat(value=OutbreakAlert.objects.filter(acknowledged_at__isnull=True).count(), unit=_("件"))
