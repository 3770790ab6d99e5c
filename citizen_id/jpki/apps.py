from django.apps import AppConfig


class JpkiConfig(AppConfig):
    """J-LIS revocation lists, shared by every municipality (public schema)."""

    name = "citizen_id.jpki"
    label = "jpki"
    verbose_name = "JPKI (公的個人認証) revocation lists"
    default_auto_field = "django.db.models.BigAutoField"
