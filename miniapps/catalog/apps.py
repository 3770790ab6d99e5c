from django.apps import AppConfig


class CatalogConfig(AppConfig):
    """The platform-wide catalog of external mini-apps (public schema, shared by every municipality)."""

    name = "miniapps.catalog"
    label = "miniapps_catalog"
    verbose_name = "Shared mini-app catalog (共有ミニアプリカタログ)"
