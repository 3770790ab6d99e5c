from django.apps import AppConfig


class MiniAppsConfig(AppConfig):
    """The mini-app framework itself (catalog, home screen, launch/SSO, usage events)."""

    name = "miniapps"
    verbose_name = "Mini-apps (ミニアプリ)"

    def ready(self) -> None:
        from .registry import registry

        # Every installed app's ready() runs after all apps are imported, so every MiniAppConfig
        # is visible here whatever the order of INSTALLED_APPS.
        registry.discover()

        from django.apps import apps

        if apps.is_installed("notifications"):
            from notifications.audience import register_user_source

            from .audience import miniapp_subscribers

            register_user_source("miniapp", miniapp_subscribers)

        if apps.is_installed("citizen_id"):
            from .attributes import citizen_id_is_active, register_verified_resident_check

            register_verified_resident_check(citizen_id_is_active)
