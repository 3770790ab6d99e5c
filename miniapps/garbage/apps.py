from django.apps import AppConfig


class GarbageConfig(AppConfig):
    name = "miniapps.garbage"
    label = "garbage"
    verbose_name = "ごみカレンダー / Garbage calendar"
    default_auto_field = "django.db.models.BigAutoField"
