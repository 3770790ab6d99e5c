"""Municipalities (tenants, one PostgreSQL schema each) and the host names that route to them."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from .validators import validate_lg_code

DEFAULT_MUNICIPALITY_SETTINGS = {
    # Person-derived counts below this are suppressed in dashboards and exports.
    "privacy_threshold": 10,
    "timezone": "Asia/Tokyo",
    "languages": ["ja", "en"],
    "fiscal_year_start_month": 4,
}


class Municipality(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", "有効 / Active"
        SUSPENDED = "suspended", "停止中 / Suspended"

    code = models.CharField(
        "全国地方公共団体コード", max_length=6, unique=True, validators=[validate_lg_code]
    )
    name = models.CharField("名称", max_length=100)
    name_kana = models.CharField("名称（かな）", max_length=200, blank=True)
    name_en = models.CharField("English name", max_length=200, blank=True)
    prefecture = models.CharField("都道府県", max_length=10, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    suspended_at = models.DateTimeField(null=True, blank=True)

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def setting(self, key: str):
        return self.settings.get(key, DEFAULT_MUNICIPALITY_SETTINGS.get(key))

    @property
    def primary_host(self) -> str | None:
        for domain in self.domains.all():
            if domain.is_primary:
                return domain.domain
        return None

    def api_base_url(self) -> str | None:
        host = self.primary_host
        if host is None:
            return None
        port = f":{settings.PLATFORM_PUBLIC_PORT}" if settings.PLATFORM_PUBLIC_PORT else ""
        return f"{settings.PLATFORM_SCHEME}://{host}{port}/api/v1/"


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]
