from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = "Data platform (データ連携基盤)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The built-in facts and datasets register themselves on import.
        from . import datasets, facts  # noqa: F401
