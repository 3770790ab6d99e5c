"""Writes for accounts: residents, staff, roles, districts, API tokens, the audit log."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import structlog

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from superapp.api.errors import MESSAGES, ApiError

from .models import ApiToken, AuditEvent, District, StaffTotp, User
from .roles import ALL_ROLES, Role

log = structlog.get_logger(__name__)

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
        _record_login_failure(username, client_ip)
        raise ApiError("invalid_credentials", status_code=401)
    cache.delete(key)
    return user


def _record_login_failure(username: str, client_ip: str) -> None:
    """Counts a failed password or second-factor code; the limit locks the name + address."""
    key = _lockout_key(username, client_ip)
    try:
        failures = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=settings.STAFF_LOGIN_LOCKOUT_SECONDS)
        failures = 1
    if failures >= settings.STAFF_LOGIN_MAX_FAILURES:
        cache.touch(key, timeout=settings.STAFF_LOGIN_LOCKOUT_SECONDS)
        audit_record(actor=None, action="staff.locked_out", data={"username": username}, ip_address=client_ip)


def staff_token_issue(*, user: User, client_ip: str, label: str = "") -> IssuedToken:
    issued = api_token_issue(user=user, kind=ApiToken.Kind.STAFF, ttl=settings.STAFF_TOKEN_TTL, label=label)
    audit_record(actor=user, action="staff.token_issued", target=issued.token, ip_address=client_ip)
    return issued


@transaction.atomic
def district_update(*, district: District, name: str, kana: str = "", sort_order: int | None = None,
                    acting_user: User | None = None) -> District:
    name = name.strip()
    if District.objects.filter(name=name).exclude(pk=district.pk).exists():
        raise ApiError("conflict", status_code=409, fields={"name": [
            f"校区「{name}」は既に登録されています。 / District '{name}' already exists."]})
    before = {"name": district.name, "kana": district.kana, "sort_order": district.sort_order}
    district.name, district.kana = name, kana.strip()
    if sort_order is not None:
        district.sort_order = sort_order
    after = {"name": district.name, "kana": district.kana, "sort_order": district.sort_order}
    if before != after:
        try:
            with transaction.atomic():
                district.save(update_fields=["name", "kana", "sort_order"])
        except IntegrityError:
            raise ApiError("conflict", status_code=409, fields={"name": [
                f"校区「{name}」は既に登録されています。 / District '{name}' already exists."]}) from None
        audit_record(actor=acting_user, action="district.update", target=district,
                     data={"before": before, "after": after})
    return district


# --- Staff accounts from the console: invitations, roles, deactivation --------------------------
def _is_active_admin(user: User) -> bool:
    return user.is_active and user.kind == User.Kind.STAFF and user.groups.filter(name=Role.MUNICIPALITY_ADMIN).exists()


def _other_active_admins_exist(user: User) -> bool:
    return (User.objects.filter(kind=User.Kind.STAFF, is_active=True, groups__name=Role.MUNICIPALITY_ADMIN)
            .exclude(pk=user.pk).exists())


def _invitation_email(*, user: User, site_name: str, link: str) -> tuple[str, str]:
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
    subject = f"[{site_name}] 職員向け管理画面への招待 / Invitation to the staff console"
    body = (
        f"{user.display_name or user.email} 様\n\n"
        f"{site_name}の職員向け管理画面のアカウントが作成されました。\n"
        f"次のリンクからパスワードを設定してください（{days}日間有効、1回限り）。\n\n{link}\n\n"
        "心当たりがない場合は、このメールを破棄してください。\n\n"
        "----\n"
        f"An account on the {site_name} staff console was created for you.\n"
        f"Set your password with the link above (valid for {days} days, usable once).\n"
        "If you did not expect this email, you can ignore it.\n"
    )
    return subject, body


def _send_invitation(*, user: User, site_name: str, build_link: Callable[[str, str], str]) -> None:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    link = build_link(uidb64, default_token_generator.make_token(user))
    subject, body = _invitation_email(user=user, site_name=site_name, link=link)
    recipient = user.email

    def send() -> None:
        try:
            send_mail(subject, body, None, [recipient])
        except Exception:  # the account exists either way; an admin can resend the invitation
            log.exception("staff_invitation_not_sent", user_id=user.pk)

    transaction.on_commit(send)


@transaction.atomic
def staff_invite(*, email: str, roles: list[str], site_name: str, build_link: Callable[[str, str], str],
                 display_name: str = "", acting_user: User | None = None) -> User:
    """Creates a staff account without a password and emails a one-time link to set it.

    `build_link(uidb64, token)` returns the absolute URL of the set-password page; the token is
    Django's password-reset token, so it stops working once the password is set."""
    email = email.strip()
    username = email.lower()
    if User.objects.filter(username__iexact=username).exists():
        raise ApiError("conflict", status_code=409, fields={"email": [
            "このメールアドレスの職員は既に登録されています。 / A staff member with this email already exists."]})
    user = User(username=username, email=email, display_name=display_name.strip(), kind=User.Kind.STAFF,
                is_staff=True)
    user.set_unusable_password()
    user.save()
    staff_set_roles(staff=user, roles=roles, acting_user=acting_user)
    audit_record(actor=acting_user, action="staff.invited", target=user,
                 data={"username": username, "roles": sorted(set(roles))})
    _send_invitation(user=user, site_name=site_name, build_link=build_link)
    return user


@transaction.atomic
def staff_invite_resend(*, staff: User, site_name: str, build_link: Callable[[str, str], str],
                        acting_user: User | None = None) -> User:
    """A new link for a staff member who has not set a password yet; earlier links stop working."""
    if staff.has_usable_password():
        raise ApiError("validation_error", fields={"staff": [
            "この職員は既にパスワードを設定済みです。 / This staff member has already set a password."]})
    staff.set_unusable_password()  # a new random marker: earlier tokens no longer match
    staff.save(update_fields=["password"])
    audit_record(actor=acting_user, action="staff.invitation_resent", target=staff, data={"username": staff.username})
    _send_invitation(user=staff, site_name=site_name, build_link=build_link)
    return staff


def staff_invite_user(*, uidb64: str, token: str) -> User:
    """The invited staff member a set-password link belongs to, or `invalid_invite_link` (404)."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
        user = User.objects.get(pk=pk, kind=User.Kind.STAFF, is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        raise ApiError("invalid_invite_link", status_code=404)
    return user


@transaction.atomic
def staff_password_set(*, user: User, password: str, client_ip: str | None = None) -> User:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApiError("validation_error", fields={"password": list(exc.messages)}) from None
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(actor=user, action="staff.password_set", target=user, ip_address=client_ip)
    return user


@transaction.atomic
def staff_roles_update(*, staff: User, roles: list[str], acting_user: User | None = None) -> User:
    """`staff_set_roles` (audited) that refuses to leave the municipality without an active admin."""
    if (Role.MUNICIPALITY_ADMIN not in roles and _is_active_admin(staff)
            and not _other_active_admins_exist(staff)):
        raise ApiError("last_admin", fields={"roles": [" / ".join(MESSAGES["last_admin"])]})
    return staff_set_roles(staff=staff, roles=roles, acting_user=acting_user)


@transaction.atomic
def staff_deactivate(*, staff: User, acting_user: User | None = None) -> int:
    """Disables the account and revokes its API tokens (console sessions end with `is_active`).
    Returns how many tokens were revoked."""
    if acting_user is not None and staff.pk == acting_user.pk:
        raise ApiError("validation_error", fields={"staff": [
            "自分自身のアカウントは無効にできません。 / You cannot deactivate your own account."]})
    if _is_active_admin(staff) and not _other_active_admins_exist(staff):
        raise ApiError("last_admin", fields={"staff": [" / ".join(MESSAGES["last_admin"])]})
    revoked = 0
    if staff.is_active:
        staff.is_active = False
        staff.save(update_fields=["is_active"])
        revoked = ApiToken.objects.filter(user=staff, revoked_at__isnull=True).update(revoked_at=timezone.now())
        audit_record(actor=acting_user, action="staff.deactivated", target=staff,
                     data={"username": staff.username, "tokens_revoked": revoked})
    return revoked


@transaction.atomic
def staff_reactivate(*, staff: User, acting_user: User | None = None) -> User:
    if not staff.is_active:
        staff.is_active = True
        staff.save(update_fields=["is_active"])
        audit_record(actor=acting_user, action="staff.reactivated", target=staff, data={"username": staff.username})
    return staff


# --- Two-factor sign-in (TOTP, RFC 6238) ---------------------------------------------------------
TOTP_DIGITS = 6
TOTP_VALID_WINDOW = 1  # one 30-second step either side, for clocks that drift


def _normalise_code(code: str) -> str:
    # NFKC turns full-width digits typed with a Japanese IME ("１２３") into ASCII ones.
    return re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", str(code)))


def _totp_accepted_step(device: StaffTotp, code: str) -> int | None:
    code = _normalise_code(code)
    if not re.fullmatch(rf"\d{{{TOTP_DIGITS}}}", code):
        return None
    totp = pyotp.TOTP(device.secret, digits=TOTP_DIGITS)
    current = totp.timecode(timezone.now())
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if step > device.last_used_step and hmac.compare_digest(totp.generate_otp(step), code):
            # Conditional update: two requests racing with the same code cannot both win.
            if StaffTotp.objects.filter(pk=device.pk, last_used_step__lt=step).update(last_used_step=step):
                device.last_used_step = step
                return step
            return None
    return None


def staff_totp_begin(*, user: User) -> StaffTotp:
    """A new secret to enrol in an authenticator app (replaces an unconfirmed one)."""
    device = StaffTotp.objects.filter(user=user).first()
    if device is not None and device.is_confirmed:
        raise ApiError("conflict", status_code=409, fields={"code": [
            "2段階認証は既に有効です。 / Two-factor sign-in is already on."]})
    if device is None:
        device = StaffTotp(user=user)
    device.secret = pyotp.random_base32()
    device.last_used_step = 0
    device.save()
    return device


def staff_totp_provisioning_uri(*, device: StaffTotp, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the enrolment QR code."""
    return pyotp.TOTP(device.secret, digits=TOTP_DIGITS).provisioning_uri(name=device.user.username,
                                                                          issuer_name=issuer)


@transaction.atomic
def staff_totp_confirm(*, user: User, code: str, client_ip: str | None = None) -> StaffTotp:
    device = StaffTotp.objects.select_for_update().filter(user=user, confirmed_at__isnull=True).first()
    if device is None or _totp_accepted_step(device, code) is None:
        raise ApiError("invalid_totp", fields={"code": [" / ".join(MESSAGES["invalid_totp"])]})
    device.confirmed_at = timezone.now()
    device.save(update_fields=["confirmed_at"])
    audit_record(actor=user, action="staff.2fa_enabled", target=user, ip_address=client_ip)
    return device


@transaction.atomic
def staff_totp_disable(*, user: User, code: str, client_ip: str | None = None) -> None:
    """The staff member turns two-factor off, proving possession with a current code."""
    device = StaffTotp.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None or _totp_accepted_step(device, code) is None:
        raise ApiError("invalid_totp", fields={"code": [" / ".join(MESSAGES["invalid_totp"])]})
    device.delete()
    audit_record(actor=user, action="staff.2fa_disabled", target=user, ip_address=client_ip)


@transaction.atomic
def staff_totp_reset(*, staff: User, acting_user: User | None = None) -> bool:
    """An admin removes a staff member's authenticator (lost phone); they sign in with the password
    alone until they enrol again. Returns whether there was one."""
    deleted, _ = StaffTotp.objects.filter(user=staff).delete()
    if deleted:
        audit_record(actor=acting_user, action="staff.2fa_reset", target=staff, data={"username": staff.username})
    return bool(deleted)


def staff_totp_verify_login(*, user: User, code: str, client_ip: str) -> None:
    """Second step of sign-in. Wrong codes count towards the same lockout as wrong passwords."""
    key = _lockout_key(user.username, client_ip)
    if cache.get(key, 0) >= settings.STAFF_LOGIN_MAX_FAILURES:
        raise ApiError("account_locked", status_code=429,
                       fields={"retry_after_seconds": [str(settings.STAFF_LOGIN_LOCKOUT_SECONDS)]})
    device = StaffTotp.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None or _totp_accepted_step(device, code) is None:
        _record_login_failure(user.username, client_ip)
        raise ApiError("invalid_totp", status_code=401, fields={"code": [" / ".join(MESSAGES["invalid_totp"])]})
    cache.delete(key)
