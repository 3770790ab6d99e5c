"""A municipality's side of the mini-app framework (tenant schema): which mini-apps it offers and in
what order, residents' home layouts, consent grants for external mini-apps, launch-token signing
keys, and usage events with their daily aggregates."""
from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q

from accounts.models import User


class CatalogEntry(models.Model):
    """The municipality's switch and position for one mini-app. Built-in mini-apps need no row until
    staff change something (their manifest says whether they start enabled); an external mini-app
    is in the municipality's catalog only once staff add it from the shared catalog."""

    miniapp_id = models.SlugField(max_length=50, unique=True)
    # Set for external mini-apps: the shared catalog row in the public schema (no database
    # constraint across schemas; shared rows are suspended, never deleted).
    external = models.ForeignKey("miniapps_catalog.ExternalMiniApp", null=True, blank=True,
                                 on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    enabled = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=100)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sort_order", "miniapp_id"]
        verbose_name_plural = "catalog entries"

    def __str__(self) -> str:
        return f"{self.miniapp_id} ({'on' if self.enabled else 'off'})"


class HomeLayout(models.Model):
    """Ordered favourites on a home screen: a resident's own (user set) or the municipality's
    default for residents who never arranged theirs (user NULL, at most one row)."""

    # (The OneToOneField's own unique index duplicates the constraint below for resident rows; it is
    # kept because django-tenants' schema cloning renames unique constraints in every cloned
    # schema, so a migration dropping one of them by introspection would drop the wrong one there.)
    user = models.OneToOneField(User, null=True, blank=True, on_delete=models.CASCADE, related_name="home_layout")
    favourites = ArrayField(models.SlugField(max_length=50), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], name="miniapps_one_default_layout", nulls_distinct=False),
        ]


class MiniAppGrant(models.Model):
    """A resident's relationship with one external mini-app: the pairwise subject id its launch
    tokens carry (stable, so the service recognises the resident) and the attributes consented to."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="miniapp_grants")
    miniapp_id = models.SlugField(max_length=50)
    subject = models.UUIDField(unique=True)
    # Attributes the resident agreed to share, and the set the mini-app asked for at that moment:
    # when it asks for more later, consent is asked again.
    attributes = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    requested_when_consented = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "miniapp_id"], name="miniapps_one_grant_per_app")]

    def covers(self, requested: list[str] | tuple[str, ...]) -> bool:
        """True when the resident has answered the consent question for everything now requested."""
        return self.consented_at is not None and set(requested) <= set(self.requested_when_consented)


class SigningKey(models.Model):
    """The municipality's launch-token signing keys (ES256). One is current; retired keys stay
    published in the JWKS for a grace period so tokens signed just before a rotation still verify."""

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=16, default="ES256")
    # PKCS#8 PEM, encrypted with MINIAPPS_SIGNING_KEY_PASSPHRASE.
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    is_current = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_current"], condition=Q(is_current=True), name="miniapps_one_current_key"),
        ]


class UsageEvent(models.Model):
    """One client-reported interaction, append-only. Written in bulk (one INSERT per batch) and
    read only by the aggregation, which scans by time: BRIN indexes on both timestamps stay tiny
    and cost almost nothing per insert, unlike B-trees. No foreign keys, so inserts check nothing
    else; district and age band are copied at ingestion so aggregates never join the user table."""

    class Kind(models.IntegerChoices):
        OPENED = 1, "opened"
        TAPPED = 2, "tapped"

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()  # client timestamp
    received_at = models.DateTimeField()  # server timestamp
    miniapp_id = models.CharField(max_length=50)
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    user_id = models.BigIntegerField()
    district_id = models.BigIntegerField(null=True)
    age_band = models.PositiveSmallIntegerField(null=True)  # lower bound of the decade: 0, 10, ... 80 (= 80+)

    class Meta:
        indexes = [
            BrinIndex(fields=["received_at"], name="miniapps_usage_received_brin"),
            BrinIndex(fields=["occurred_at"], name="miniapps_usage_occurred_brin"),
        ]


class UsageDaily(models.Model):
    """Per local day (Asia/Tokyo, by client timestamp), mini-app, district and age band: what the
    ranking and the console dashboards read. Rebuilt day by day from the events, so exact."""

    day = models.DateField()
    miniapp_id = models.CharField(max_length=50)
    district_id = models.BigIntegerField(null=True)
    age_band = models.PositiveSmallIntegerField(null=True)
    opens = models.PositiveIntegerField(default=0)
    taps = models.PositiveIntegerField(default=0)
    users = models.PositiveIntegerField(default=0)  # distinct residents that day

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "miniapp_id", "district_id", "age_band"],
                                    name="miniapps_usage_daily_unique", nulls_distinct=False),
        ]  # its leading (day, miniapp_id) also serves the ranking's date-range scans


class UsageAggregationState(models.Model):
    """Singleton (pk=1): events received before `received_until` are reflected in UsageDaily."""

    received_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class CatalogState(models.Model):
    """Singleton (pk=1): a token that changes, in the same transaction, with every change to this
    municipality's catalog entries. Web processes keep the home-screen catalog in memory and
    compare tokens (read with the resident's layout, in one query) instead of re-reading it."""

    generation = models.UUIDField()
