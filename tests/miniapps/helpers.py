"""Builders for mini-app tests, through the real services."""
from __future__ import annotations

from miniapps import services
from miniapps.catalog.models import ExternalMiniApp


def external_app(tenant, slug: str, *, status: str = ExternalMiniApp.Status.PUBLISHED,
                 requested_attributes=("nickname", "district", "age_band", "verified_resident"),
                 category: str = "tourism_events", launch_url: str | None = None, **fields) -> ExternalMiniApp:
    """An external mini-app published by `tenant` (its staff registered and reviewed it)."""
    defaults = dict(name=f"{slug} (テスト)", name_en=f"{slug} (test)", description="テスト用の外部ミニアプリ",
                    description_en="An external mini-app for tests", category=category, icon="map",
                    launch_url=launch_url or f"https://{slug}.example.com/launch", owner_kind="company",
                    owner_name="テスト株式会社", contact_email="contact@example.com",
                    requested_attributes=list(requested_attributes))
    defaults.update(fields)
    with tenant.schema():
        app = services.external_miniapp_create(publisher=tenant.municipality, slug=slug, acting_user=tenant.admin,
                                               **defaults)
        if status != ExternalMiniApp.Status.DRAFT:
            services.external_miniapp_set_status(app=app, status=status, acting_user=tenant.admin)
    return app


def add_to_catalog(tenant, slug: str, *, enabled: bool = True) -> None:
    with tenant.schema():
        services.catalog_add_external(miniapp_id=slug, acting_user=tenant.admin, enabled=enabled)


def set_enabled(tenant, miniapp_id: str, enabled: bool) -> None:
    with tenant.schema():
        services.catalog_entry_update(miniapp_id=miniapp_id, acting_user=tenant.admin, enabled=enabled)


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "message_en", "fields"}, body
    return body["error"]
