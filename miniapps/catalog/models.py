"""External mini-apps (web services run by a company, a municipality or a community group), in the
public schema so that every municipality on the platform can enable what one of them published."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from miniapps.manifest import Category


class ResidentAttribute(models.TextChoices):
    """What an external mini-app may ask to receive in its launch token (with the resident's consent)."""

    NICKNAME = "nickname", "ニックネーム / Nickname"
    DISTRICT = "district", "校区 / School district"
    AGE_BAND = "age_band", "年代 / Age band"
    VERIFIED_RESIDENT = "verified_resident", "市民確認済み / Verified resident"


class ExternalMiniApp(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "下書き / Draft"
        PUBLISHED = "published", "公開中 / Published"
        SUSPENDED = "suspended", "停止中 / Suspended"

    class OwnerKind(models.TextChoices):
        COMPANY = "company", "企業 / Company"
        MUNICIPALITY = "municipality", "自治体 / Municipality"
        COMMUNITY_GROUP = "community_group", "地域団体 / Community group"

    # The mini-app id residents' apps and launch tokens (aud) use; unique on the whole platform.
    slug = models.SlugField(max_length=50, unique=True)
    # The municipality whose staff registered, reviewed and manage it.
    publisher = models.ForeignKey("tenants.Municipality", on_delete=models.PROTECT, related_name="published_miniapps")
    name = models.CharField("名称", max_length=60)
    name_en = models.CharField("English name", max_length=60)
    description = models.CharField("説明", max_length=500, blank=True)
    description_en = models.CharField("English description", max_length=500, blank=True)
    category = models.CharField(max_length=32, choices=Category.choices)
    icon = models.CharField(max_length=500, help_text="An icon name or an https:// image URL.")
    launch_url = models.URLField(max_length=500)
    owner_kind = models.CharField(max_length=32, choices=OwnerKind.choices)
    owner_name = models.CharField("運営者", max_length=100)
    contact_email = models.EmailField(blank=True)
    requested_attributes = ArrayField(models.CharField(max_length=32, choices=ResidentAttribute.choices),
                                      default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class SharedCatalogState(models.Model):
    """Singleton (pk=1): changes with every change to an external mini-app (see miniapps.CatalogState)."""

    generation = models.UUIDField()
