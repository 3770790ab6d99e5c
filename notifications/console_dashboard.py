"""Notifications on the staff dashboard: how many phones a push reaches today."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from admin_console.dashboard import DashboardContext, Stat, dashboard_stat

from .models import Device


@dashboard_stat("active_devices", title=_("有効な端末"), order=12,
                description=_("プッシュ通知が届く登録端末の数"))
def active_devices(ctx: DashboardContext) -> Stat:
    return Stat(value=Device.objects.filter(is_active=True).count(), unit=_("台"))
