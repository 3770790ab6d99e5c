"""The cache and media storage are partitioned by municipality."""
from __future__ import annotations

from pathlib import Path

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def test_cache_entries_are_per_municipality(saga, kanzaki):
    with saga.schema():
        cache.set("home-layout", "saga-layout", 60)
    with kanzaki.schema():
        assert cache.get("home-layout") is None
        cache.set("home-layout", "kanzaki-layout", 60)
    with saga.schema():
        assert cache.get("home-layout") == "saga-layout"


def test_uploaded_files_land_under_the_municipalitys_folder(saga, kanzaki, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with saga.schema():
        name = default_storage.save("photos/notice.txt", ContentFile(b"saga"))
        saga_path = Path(default_storage.path(name))
    with kanzaki.schema():
        assert not default_storage.exists(name)
    assert saga_path.is_relative_to(tmp_path / saga.schema_name)
    assert saga_path.read_bytes() == b"saga"
