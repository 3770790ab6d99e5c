from django.apps import AppConfig


class AdminConsoleConfig(AppConfig):
    name = "admin_console"
    verbose_name = "Staff console (職員向け管理画面)"
