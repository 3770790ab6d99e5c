"""Onboarding, suspension and the template schema new municipalities are cloned from.

`municipality_onboard` is the one way a municipality comes into being: the management command,
the platform console, `make demo` and the tests all call it.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.validators import validate_email
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from accounts.services import audit_record, role_groups_ensure, staff_create
from accounts.roles import ALL_ROLES
from superapp.api.errors import ApiError

from .models import DEFAULT_MUNICIPALITY_SETTINGS, Domain, Municipality
from .validators import is_valid_lg_code

log = structlog.get_logger(__name__)

_HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEMA_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RESERVED_SCHEMAS = {"public", "information_schema", settings.TENANT_BASE_SCHEMA}


class OnboardingError(ApiError):
    pass


@dataclass(frozen=True)
class OnboardResult:
    municipality: Municipality
    created: bool
    path: str  # "clone", "migrate" or "existing"
    seconds: float
    message: str
    message_en: str


def _fail(field: str, ja: str, en: str, status_code: int = 400) -> OnboardingError:
    code = "conflict" if status_code == 409 else "validation_error"
    return OnboardingError(code, status_code=status_code, fields={field: [f"{ja} / {en}"]})


def schema_name_for_domain(domain: str) -> str:
    return domain.split(".", 1)[0].replace("-", "_")


def _validate(*, code: str, name: str, domain: str, schema_name: str, admin_email: str) -> None:
    if not is_valid_lg_code(code):
        raise _fail("code", "全国地方公共団体コードは検査数字付きの6桁です（例: 412015）",
                    "the local government code must be 6 digits with a valid check digit (e.g. 412015)")
    if not name.strip():
        raise _fail("name", "名称を入力してください", "name is required")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(_HOST_LABEL_RE.match(label) for label in labels):
        raise _fail("domain", "ドメインはホスト名（例: saga.localhost）で指定してください",
                    "domain must be a host name such as saga.localhost")
    if not _SCHEMA_RE.match(schema_name) or schema_name in _RESERVED_SCHEMAS or schema_name.startswith("pg_"):
        raise _fail("schema", "スキーマ名は英小文字で始まる英小文字・数字・_ のみです",
                    "schema must start with a lowercase letter and contain only a-z, 0-9 and _")
    try:
        validate_email(admin_email)
    except ValidationError:
        raise _fail("admin_email", "管理者のメールアドレスが不正です", "admin email is not valid") from None


def template_is_current() -> bool:
    """True when the template schema exists and has every tenant migration applied.

    A stale template is dangerous: cloning fakes every migration for the new schema, so a
    migration missing from the template would be marked applied without its tables."""
    if not schema_exists(settings.TENANT_BASE_SCHEMA):
        return False
    with schema_context(settings.TENANT_BASE_SCHEMA):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return not plan


def tenant_template_prepare(*, verbosity: int = 0) -> bool:
    """Creates (if missing) and migrates the template schema. Run on every deploy: `migrate_schemas`
    does not touch it. Returns True when anything was applied."""
    template = settings.TENANT_BASE_SCHEMA
    if template_is_current():
        return False
    if not schema_exists(template):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{template}"')
    call_command("migrate_schemas", tenant=True, schema_name=template, interactive=False, verbosity=verbosity)
    with schema_context(template):
        role_groups_ensure()
    connection.set_schema_to_public()
    return True


def municipality_onboard(
    *,
    code: str,
    name: str,
    domain: str,
    admin_email: str,
    admin_password: str,
    name_kana: str = "",
    name_en: str = "",
    prefecture: str = "",
    schema_name: str | None = None,
    acting_user=None,
) -> OnboardResult:
    """Creates the municipality's schema (cloned from the template when it is current), its
    primary domain, default settings and first admin, who holds every staff role.

    Idempotent: onboarding the same code and domain again changes nothing and says so.
    With TENANT_CREATION_FAKES_MIGRATIONS off (the benchmark's baseline) it runs every migration."""
    started = time.perf_counter()
    domain = domain.strip().lower()
    schema_name = (schema_name or schema_name_for_domain(domain)).strip().lower()
    _validate(code=code, name=name, domain=domain, schema_name=schema_name, admin_email=admin_email)

    existing = Municipality.objects.filter(code=code).first()
    if existing is not None:
        if existing.schema_name != schema_name or not existing.domains.filter(domain=domain).exists():
            raise _fail("code", f"コード{code}は既に{existing.name}（{existing.schema_name}）として登録されています",
                        f"code {code} is already onboarded as {existing.name_en or existing.name} ({existing.schema_name})",
                        status_code=409)
        return OnboardResult(existing, False, "existing", time.perf_counter() - started,
                             f"{existing.name}（{code}）は既に登録済みです。変更はありません。",
                             f"{existing.name_en or existing.name} ({code}) is already onboarded; nothing changed.")
    if Domain.objects.filter(domain=domain).exists():
        raise _fail("domain", f"ドメイン{domain}は他の自治体が使用しています", f"domain {domain} is already in use", 409)
    if Municipality.objects.filter(schema_name=schema_name).exists() or schema_exists(schema_name):
        raise _fail("schema", f"スキーマ{schema_name}は既に存在します", f"schema {schema_name} already exists", 409)

    path = "migrate"
    if settings.TENANT_CREATION_FAKES_MIGRATIONS:
        if not template_is_current():
            log.warning("tenant_template_stale", template=settings.TENANT_BASE_SCHEMA)
            tenant_template_prepare()
        path = "clone"

    municipality = Municipality(
        schema_name=schema_name, code=code, name=name.strip(), name_kana=name_kana.strip(),
        name_en=name_en.strip(), prefecture=prefecture.strip(), settings=dict(DEFAULT_MUNICIPALITY_SETTINGS),
    )
    try:
        municipality.save(verbosity=0)
    finally:
        connection.set_schema_to_public()
    try:
        Domain.objects.create(domain=domain, tenant=municipality, is_primary=True)
        with schema_context(schema_name):
            role_groups_ensure()
            admin = staff_create(username=admin_email, email=admin_email, password=admin_password,
                                 display_name=f"{name} 管理者", roles=list(ALL_ROLES), acting_user=None)
            admin.is_superuser = True
            admin.save(update_fields=["is_superuser"])
            audit_record(actor=None, action="municipality.onboarded", target=admin,
                         data={"code": code, "by": getattr(acting_user, "username", "system"), "path": path})
    except Exception:
        # Leave nothing half-made: the schema, its row and domain go together.
        connection.set_schema_to_public()
        Domain.objects.filter(tenant=municipality).delete()
        municipality.delete(force_drop=True)
        raise
    connection.set_schema_to_public()
    seconds = time.perf_counter() - started
    log.info("municipality_onboarded", code=code, schema=schema_name, path=path, seconds=round(seconds, 3))
    return OnboardResult(municipality, True, path, seconds,
                         f"{name}（{code}）を登録しました: {domain} → スキーマ {schema_name}（{path}、{seconds:.2f}秒）",
                         f"Onboarded {name_en or name} ({code}): {domain} → schema {schema_name} ({path}, {seconds:.2f} s)")


def municipality_set_status(*, code: str, status: str) -> Municipality:
    municipality = Municipality.objects.filter(code=code).first()
    if municipality is None:
        raise ApiError("not_found", status_code=404, fields={"code": [f"コード{code}の自治体はありません / no municipality with code {code}"]})
    if municipality.status != status:
        municipality.status = status
        municipality.suspended_at = timezone.now() if status == Municipality.Status.SUSPENDED else None
        municipality.save(update_fields=["status", "suspended_at"])
        with schema_context(municipality.schema_name):
            audit_record(actor=None, action=f"municipality.{status}", data={"code": code})
    return municipality


def municipality_suspend(*, code: str) -> Municipality:
    """Suspends without deleting anything: the municipality's hosts answer 403 until resumed."""
    return municipality_set_status(code=code, status=Municipality.Status.SUSPENDED)


def municipality_resume(*, code: str) -> Municipality:
    return municipality_set_status(code=code, status=Municipality.Status.ACTIVE)

