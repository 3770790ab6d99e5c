"""The digital citizen ID on the staff dashboard: residents who hold a verified (active) ID."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from admin_console.dashboard import DashboardContext, Stat, dashboard_stat

from .models import CitizenId


@dashboard_stat("verified_citizen_ids", title=_("デジタル市民証"), order=13,
                description=_("マイナンバーカードで本人確認済みの有効な市民証"))
def verified_citizen_ids(ctx: DashboardContext) -> Stat:
    return Stat(value=CitizenId.objects.filter(status=CitizenId.Status.ACTIVE).count(), unit=_("人"))
