from django.apps import AppConfig


class CitizenIdConfig(AppConfig):
    """デジタル市民証 (digital citizen ID), owned by each municipality."""

    name = "citizen_id"
    verbose_name = "デジタル市民証 / Digital citizen ID"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
