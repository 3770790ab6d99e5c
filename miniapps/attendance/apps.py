from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    name = "miniapps.attendance"
    label = "attendance"
    verbose_name = "学校出欠連絡 / School attendance"
    default_auto_field = "django.db.models.BigAutoField"
