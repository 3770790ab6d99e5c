"""Keep the host cache honest when municipalities or their domains change."""
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import hostcache
from .models import Domain, Municipality


@receiver([post_save, post_delete], sender=Municipality)
@receiver([post_save, post_delete], sender=Domain)
def _invalidate_host_cache(**_kwargs) -> None:
    hostcache.clear()
