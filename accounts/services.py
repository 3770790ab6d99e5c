"""Writes for accounts: residents, staff, roles, districts, API tokens, the audit log."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from superapp.api.errors import ApiError

from .models import ApiToken, AuditEvent, District, User
from .roles import ALL_ROLES

TOKEN_PREFIX = "sa_"
_INTEREST_RE = re.compile(r"^[^\s\x00-\x1f,]{1,32}$")
MAX_INTERESTS = 20


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def audit_record(*, actor: User | None, action: str, target: object | None = None,
                 data: dict | None = None, ip_address: str | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "pk", "")) if target is not None else "",
        data=data or {},
        ip_address=ip_address,
    )


# --- Tokens -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str


def api_token_issue(*, user: User, kind: str, ttl: timedelta, label: str = "") -> IssuedToken:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        key_hash=hash_token(raw),
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        user=user,
        kind=kind,
        label=label[:100],
        expires_at=timezone.now() + ttl,
    )
    return IssuedToken(token=token, raw=raw)


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def api_tokens_purge_expired(*, older_than: timedelta = timedelta(days=30)) -> int:
    """Drops tokens that expired or were revoked more than `older_than` ago."""
    cutoff = timezone.now() - older_than
    expired, _ = ApiToken.objects.filter(expires_at__lt=cutoff).delete()
    revoked, _ = ApiToken.objects.filter(revoked_at__lt=cutoff).delete()
    return expired + revoked


# --- Residents --------------------------------------------------------------------------------
def _clean_interests(interests: list[str]) -> list[str]:
    cleaned: list[str] = []
    for tag in interests:
        tag = str(tag).strip().lower()
        if not _INTEREST_RE.match(tag):
            raise ApiError("validation_error", fields={"interests": [
                "関心タグは空白を含まない32文字以内で指定してください。 / Each interest tag is 1-32 characters without spaces."]})
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_INTERESTS:
        raise ApiError("validation_error", fields={"interests": [
            f"関心タグは{MAX_INTERESTS}個までです。 / At most {MAX_INTERESTS} interest tags."]})
    return cleaned


def _check_birth_year(birth_year: int | None) -> None:
    if birth_year is None:
        return
    this_year = timezone.localdate().year
    if not 1900 <= birth_year <= this_year:
        raise ApiError("validation_error", fields={"birth_year": [
            f"生まれ年は1900〜{this_year}の範囲で指定してください。 / Birth year must be between 1900 and {this_year}."]})


@transaction.atomic
def resident_create(*, nickname: str = "", language: str = User.Language.JA, district: District | None = None,
                    interests: list[str] | None = None, birth_year: int | None = None,
                    device_label: str = "") -> IssuedToken:
    """A resident account for one app install, and its first API token."""
    _check_birth_year(birth_year)
    user = User.objects.create_user(
        username=f"resident-{secrets.token_hex(10)}",
        kind=User.Kind.RESIDENT,
        nickname=nickname,
        language=language,
        district=district,
        interests=_clean_interests(interests or []),
        birth_year=birth_year,
    )
    return api_token_issue(user=user, kind=ApiToken.Kind.RESIDENT, ttl=settings.RESIDENT_TOKEN_TTL, label=device_label)


_PROFILE_FIELDS = ("nickname", "district", "interests", "birth_year", "language")


@transaction.atomic
def resident_update_profile(*, user: User, **changes) -> User:
    unknown = set(changes) - set(_PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    if "interests" in changes:
        changes["interests"] = _clean_interests(changes["interests"] or [])
    if "birth_year" in changes:
        _check_birth_year(changes["birth_year"])
    district_before = user.district_id
    for field, value in changes.items():
        setattr(user, field, value)
    if changes:
        user.save(update_fields=list(changes))
    if user.district_id != district_before:
        # Devices follow the resident to the new district's FCM topics.
        from notifications.services import resident_topics_changed

        resident_topics_changed(user=user)
    return user


# --- Districts --------------------------------------------------------------------------------
@transaction.atomic
def district_create(*, name: str, kana: str = "", sort_order: int | None = None,
                    acting_user: User | None = None) -> District:
    name = name.strip()
    if District.objects.filter(name=name).exists():
        raise ApiError("conflict", status_code=409, fields={"name": [
            f"校区「{name}」は既に登録されています。 / District '{name}' already exists."]})
    if sort_order is None:
        sort_order = District.objects.count() + 1
    try:
        with transaction.atomic():
            district = District.objects.create(name=name, kana=kana.strip(), sort_order=sort_order)
    except IntegrityError:  # a concurrent request created it first
        raise ApiError("conflict", status_code=409, fields={"name": [
            f"校区「{name}」は既に登録されています。 / District '{name}' already exists."]}) from None
    audit_record(actor=acting_user, action="district.create", target=district, data={"name": name})
    return district


# --- Staff ------------------------------------------------------------------------------------
def role_groups_ensure() -> None:
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)


@transaction.atomic
def staff_create(*, username: str, password: str, email: str = "", display_name: str = "",
                 roles: list[str], acting_user: User | None = None) -> User:
    if User.objects.filter(username=username).exists():
        raise ApiError("conflict", status_code=409, fields={"username": [
            "このユーザー名は既に使われています。 / This username is taken."]})
    user = User(username=username, email=email, display_name=display_name, kind=User.Kind.STAFF, is_staff=True)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApiError("validation_error", fields={"password": list(exc.messages)}) from None
    user.set_password(password)
    user.save()
    staff_set_roles(staff=user, roles=roles, acting_user=acting_user)
    return user


@transaction.atomic
def staff_set_roles(*, staff: User, roles: list[str], acting_user: User | None = None) -> User:
    unknown = sorted(set(roles) - set(ALL_ROLES))
    if unknown:
        raise ApiError("validation_error", fields={"roles": [
            f"不明な役割です: {', '.join(unknown)} / Unknown roles: {', '.join(unknown)}"]})
    role_groups_ensure()
    before = sorted(staff.groups.values_list("name", flat=True))
    staff.groups.set(Group.objects.filter(name__in=roles))
    after = sorted(set(roles))
    if before != after:
        audit_record(actor=acting_user, action="staff.roles_changed", target=staff,
                     data={"username": staff.username, "before": before, "after": after})
    return staff


def _lockout_key(username: str, client_ip: str) -> str:
    return f"staff-login-failures:{username.lower()}:{client_ip}"


def staff_authenticate(*, username: str, password: str, client_ip: str) -> User:
    """Checks a staff member's password with lockout after repeated failures from one address."""
    key = _lockout_key(username, client_ip)
    failures = cache.get(key, 0)
    if failures >= settings.STAFF_LOGIN_MAX_FAILURES:
        raise ApiError("account_locked", status_code=429,
                       fields={"retry_after_seconds": [str(settings.STAFF_LOGIN_LOCKOUT_SECONDS)]})
    user = authenticate(username=username, password=password)
    if user is None or user.kind != User.Kind.STAFF:
        try:
            failures = cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=settings.STAFF_LOGIN_LOCKOUT_SECONDS)
            failures = 1
        if failures >= settings.STAFF_LOGIN_MAX_FAILURES:
            cache.touch(key, timeout=settings.STAFF_LOGIN_LOCKOUT_SECONDS)
            audit_record(actor=None, action="staff.locked_out", data={"username": username}, ip_address=client_ip)
        raise ApiError("invalid_credentials", status_code=401)
    cache.delete(key)
    return user


def staff_token_issue(*, user: User, client_ip: str, label: str = "") -> IssuedToken:
    issued = api_token_issue(user=user, kind=ApiToken.Kind.STAFF, ttl=settings.STAFF_TOKEN_TTL, label=label)
    audit_record(actor=user, action="staff.token_issued", target=issued.token, ip_address=client_ip)
    return issued
