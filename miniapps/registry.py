"""The registry of built-in mini-apps, filled once at start-up from every installed MiniAppConfig.

`MiniAppsConfig.ready()` calls `registry.discover()`; a malformed manifest, two mini-apps with the
same id, or two mounting on the same URL prefix stop Django from starting, with a message that
names the app and the field. The tenant URL conf mounts every mini-app's URLs from here.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.apps import AppConfig, apps
from django.urls import URLPattern, URLResolver, include, path

from .manifest import Manifest, ManifestError, MiniAppConfig


class MiniAppRegistry:
    def __init__(self) -> None:
        self._manifests: dict[str, Manifest] = {}
        self._ready = False

    # --- Start-up ---------------------------------------------------------------------------
    def discover(self, app_configs: Iterable[AppConfig] | None = None) -> list[Manifest]:
        """Validates the manifests of `app_configs` (default: every installed app) and replaces the
        registry's contents with them. Raises ManifestError (an ImproperlyConfigured) on any problem."""
        configs = [config for config in (app_configs if app_configs is not None else apps.get_app_configs())
                   if isinstance(config, MiniAppConfig)]
        manifests: dict[str, Manifest] = {}
        mounts: dict[tuple[str, str], str] = {}
        problems: list[str] = []
        for config in configs:
            manifest = config.manifest()  # raises ManifestError naming the app
            if manifest.id in manifests:
                problems.append(f"mini-app id {manifest.id!r} is declared by both {manifests[manifest.id].app_name!r} "
                                f"and {manifest.app_name!r}")
            manifests[manifest.id] = manifest
            for kind, mount in (("api_mount", manifest.api_mount), ("staff_api_mount", manifest.staff_api_mount),
                                ("console_mount", manifest.console_mount)):
                if mount is None:
                    continue
                clash = next((owner for (other_kind, other), owner in mounts.items()
                              if other_kind == kind and (mount.startswith(other) or other.startswith(mount))), None)
                if clash is not None:
                    problems.append(f"{kind} {mount!r} of {manifest.id!r} overlaps the one of {clash!r}")
                mounts[(kind, mount)] = manifest.id
        if problems:
            raise ManifestError("Mini-app manifests conflict:\n" + "\n".join(f"  - {problem}" for problem in problems))
        self._manifests = dict(sorted(manifests.items(), key=lambda item: (item[1].order, item[0])))
        self._ready = True
        return list(self._manifests.values())

    # --- Reads ------------------------------------------------------------------------------
    def get(self, miniapp_id: str) -> Manifest | None:
        return self._manifests.get(miniapp_id)

    def __contains__(self, miniapp_id: object) -> bool:
        return miniapp_id in self._manifests

    def all(self) -> list[Manifest]:
        return list(self._manifests.values())

    def ids(self) -> frozenset[str]:
        return frozenset(self._manifests)

    # --- URLs -------------------------------------------------------------------------------
    def api_urlpatterns(self) -> list[URLPattern | URLResolver]:
        """Every mini-app's resident API at /api/v1/<api_mount> and staff API at /api/v1/staff/<staff_api_mount>."""
        patterns: list[URLPattern | URLResolver] = []
        for manifest in self._manifests.values():
            if manifest.api_mount:
                patterns.append(path(manifest.api_mount, include(manifest.api_urls)))
            if manifest.staff_api_mount:
                patterns.append(path(f"staff/{manifest.staff_api_mount}", include(manifest.staff_api_urls)))
        return patterns

    def console_urlpatterns(self) -> list[URLPattern | URLResolver]:
        """Every mini-app's console pages at /console/<console_mount>."""
        return [path(manifest.console_mount, include(manifest.console_urls))
                for manifest in self._manifests.values() if manifest.console_mount]

    def console_entries(self) -> list[Manifest]:
        """Mini-apps with console pages, for the console's navigation."""
        return [manifest for manifest in self._manifests.values() if manifest.console_mount]


registry = MiniAppRegistry()
