"""Writes of the platform console (public schema): operators, and municipalities through the
tenants services, each recorded in the public schema's audit log with the operator who acted."""
from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.services import audit_record, staff_invite_resend
from superapp.api.errors import ApiError
from tenants.models import Municipality
from tenants.services import OnboardResult, municipality_onboard, municipality_resume, municipality_suspend


def _require_public_schema() -> None:
    if connection.schema_name != settings.PUBLIC_SCHEMA_NAME:
        raise RuntimeError("platform operators live in the public schema")


@transaction.atomic
def platform_operator_create(*, username: str, password: str, email: str = "") -> User:
    """A platform operator: a staff user of the public schema, who signs in at /platform/."""
    _require_public_schema()
    username = username.strip()
    if not username:
        raise ApiError("validation_error", fields={"username": ["ユーザー名を入力してください。 / Username is required."]})
    if User.objects.filter(username__iexact=username).exists():
        raise ApiError("conflict", status_code=409, fields={"username": [
            "このユーザー名は既に使われています。 / This username is taken."]})
    user = User(username=username, email=email.strip(), kind=User.Kind.STAFF, is_staff=True,
                display_name=username)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApiError("validation_error", fields={"password": list(exc.messages)}) from None
    user.set_password(password)
    user.save()
    audit_record(actor=None, action="platform.operator_created", target=user, data={"username": username})
    return user


def _console_base_url(domain: str) -> str:
    port = f":{settings.PLATFORM_PUBLIC_PORT}" if settings.PLATFORM_PUBLIC_PORT else ""
    return f"{settings.PLATFORM_SCHEME}://{domain}{port}"


def platform_municipality_onboard(*, code: str, name: str, domain: str, admin_email: str, name_kana: str = "",
                                  name_en: str = "", prefecture: str = "", acting_user: User,
                                  client_ip: str | None = None) -> OnboardResult:
    """Onboards through `municipality_onboard` with a random admin password nobody sees, then emails
    the municipality's first admin a one-time link to set their own (on the new municipality's host)."""
    result = municipality_onboard(code=code, name=name, domain=domain, admin_email=admin_email,
                                  admin_password=secrets.token_urlsafe(24), name_kana=name_kana, name_en=name_en,
                                  prefecture=prefecture, acting_user=acting_user)
    if result.created:
        municipality = result.municipality
        base = _console_base_url(domain.strip().lower())

        def build_link(uidb64: str, token: str) -> str:
            return base + reverse("console:set_password", urlconf=settings.ROOT_URLCONF, args=[uidb64, token])

        with schema_context(municipality.schema_name):
            admin = User.objects.get(username=admin_email.strip())
            admin.set_unusable_password()  # the random one above was never shown to anyone
            admin.save(update_fields=["password"])
            staff_invite_resend(staff=admin, site_name=municipality.name, build_link=build_link)
        audit_record(actor=acting_user, action="platform.municipality_onboarded", target=municipality,
                     data={"code": municipality.code, "domain": domain, "path": result.path}, ip_address=client_ip)
    return result


def platform_municipality_suspend(*, code: str, acting_user: User, client_ip: str | None = None) -> Municipality:
    municipality = municipality_suspend(code=code)
    audit_record(actor=acting_user, action="platform.municipality_suspended", target=municipality,
                 data={"code": code}, ip_address=client_ip)
    return municipality


def platform_municipality_resume(*, code: str, acting_user: User, client_ip: str | None = None) -> Municipality:
    municipality = municipality_resume(code=code)
    audit_record(actor=acting_user, action="platform.municipality_resumed", target=municipality,
                 data={"code": code}, ip_address=client_ip)
    return municipality
