from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "miniapps.community"
    label = "community"
    verbose_name = "地域共創 / Community"

    def ready(self) -> None:
        from . import images

        images.register_decoders()
