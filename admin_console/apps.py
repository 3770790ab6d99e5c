from django.apps import AppConfig


class AdminConsoleConfig(AppConfig):
    name = "admin_console"
    verbose_name = "Staff console (職員向け管理画面)"

    def ready(self) -> None:
        # Every installed app's `console_dashboard` module registers its dashboard widgets.
        from .dashboard import autodiscover

        autodiscover()
