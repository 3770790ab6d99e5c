"""Accounts of one municipality: residents and staff in one user model, school districts,
opaque API tokens (stored hashed) and the audit log."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone


class District(models.Model):
    """小学校区: the unit residents pick in their profile and notifications target."""

    name = models.CharField("名称", max_length=100, unique=True)
    kana = models.CharField("かな", max_length=200, blank=True)
    sort_order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, username: str, password: str | None = None, **extra):
        user = self.model(username=username, **extra)
        user.set_password(password)  # None → unusable password (residents)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True, kind=User.Kind.STAFF)
        return self.create_user(username, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    class Kind(models.TextChoices):
        RESIDENT = "resident", "住民 / Resident"
        STAFF = "staff", "職員 / Staff"

    class Language(models.TextChoices):
        JA = "ja", "日本語"
        EN = "en", "English"

    username = models.CharField(max_length=150, unique=True)
    email = models.EmailField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.RESIDENT, db_index=True)
    display_name = models.CharField("氏名（職員）", max_length=100, blank=True)
    nickname = models.CharField("ニックネーム", max_length=50, blank=True)
    district = models.ForeignKey(District, null=True, blank=True, on_delete=models.SET_NULL, related_name="residents")
    interests = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.JA)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        indexes = [
            models.Index(fields=["kind", "district"]),
            # The dashboard's one pass over the residents (`selectors.resident_aggregate`) reads this
            # small index alone (an index-only scan, already in group order) instead of the table.
            models.Index(fields=["district", "birth_year"], condition=Q(kind="resident", is_active=True),
                         name="accounts_user_resident_agg"),
        ]

    def __str__(self) -> str:
        return self.display_name or self.nickname or self.username

    @property
    def is_resident(self) -> bool:
        return self.kind == self.Kind.RESIDENT


class ApiToken(models.Model):
    """An opaque bearer token. Only its SHA-256 is stored; the raw value is shown once."""

    class Kind(models.TextChoices):
        RESIDENT = "resident", "Resident app"
        STAFF = "staff", "Staff device"

    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class AuditEvent(models.Model):
    """Who did what to whom: role changes, tokens, PII reads, check-ins, pushes."""

    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class StaffTotp(models.Model):
    """A staff member's (or platform operator's) TOTP authenticator (RFC 6238), optional second factor
    for console sign-in. Unconfirmed until the first code from the authenticator app is checked."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp")
    secret = models.CharField(max_length=64)  # base32, as the authenticator app stores it
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The last accepted time step: a code is accepted once, so an observed code cannot be replayed.
    last_used_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None
