from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Municipalities (自治体)"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (host cache invalidation)
