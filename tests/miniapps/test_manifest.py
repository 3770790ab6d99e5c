"""Mini-app manifests: validation, discovery at start-up, conflicts, automatic URL mounting."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import URLResolver, resolve
from django.urls.resolvers import RegexPattern

from miniapps.announcements.api.views import AnnouncementListApi
from miniapps.feedback.api.views import StaffFeedbackReplyApi
from miniapps.manifest import ManifestError, MiniAppConfig
from miniapps.registry import MiniAppRegistry, registry

import tests.miniapps.sample_app as sample_module

REPO = Path(__file__).resolve().parents[2]
VALID = dict(
    name="tests.miniapps.sample_app", label="sample_app", miniapp_id="sample", name_ja="サンプル", name_en="Sample",
    description_ja="説明", description_en="A sample", category="health", icon="favorite", api_mount="sample/",
    staff_roles=("teacher",), default_enabled=False, order=5,
)


def _config(**changes) -> MiniAppConfig:
    cls = type("SampleConfig", (MiniAppConfig,), {**VALID, **changes})
    return cls("tests.miniapps.sample_app", sample_module)


def test_the_installed_builtin_miniapps_are_registered():
    ids = [manifest.id for manifest in registry.all()]
    assert ids == ["announcements", "garbage", "attendance", "community", "feedback"]  # by manifest order
    feedback = registry.get("feedback")
    assert feedback.name_ja == "ご意見投稿" and feedback.category == "city_hall"
    assert feedback.api_path == "/api/v1/feedback/" and feedback.console_path == "/console/feedback/"
    assert feedback.staff_roles == ("municipality_admin", "community_moderator")
    assert [manifest.id for manifest in registry.console_entries()] == ["announcements", "garbage", "attendance",
                                                                        "community", "feedback"]


def test_a_valid_manifest():
    manifest = _config().manifest()
    assert manifest.id == "sample" and manifest.api_urls == "tests.miniapps.sample_app.api.urls"
    assert manifest.default_enabled is False and manifest.staff_roles == ("teacher",)


@pytest.mark.parametrize(("changes", "message"), [
    ({"miniapp_id": "Bad Id"}, "miniapp_id: 'Bad Id'"),
    ({"miniapp_id": "keys"}, "miniapp_id: 'keys' is reserved"),
    ({"name_ja": ""}, "name_ja: must be a non-empty string"),
    ({"name_en": None}, "name_en: must be a non-empty string"),
    ({"description_en": "x" * 501}, "description_en: at most 500 characters"),
    ({"category": "food"}, "category: 'food' is not one of life, childcare_education, health, community, city_hall, "
                           "tourism_events"),
    ({"icon": "https://x/y.png"}, "icon:"),
    ({"api_mount": "sample"}, "api_mount: 'sample' must be a path prefix"),
    ({"api_mount": "me/"}, "api_mount: 'me/' is used by the platform itself"),
    ({"api_mount": "nothing-here/", "api_urls": "tests.miniapps.no_such_module"}, "api_urls: cannot import"),
    ({"api_urls": "tests.miniapps.sample_app", }, "api_urls: 'tests.miniapps.sample_app' has no urlpatterns"),
    ({"console_mount": "sample/"}, "console_urls: cannot import 'tests.miniapps.sample_app.console.urls'"),
    ({"staff_roles": ("mayor",)}, "staff_roles: unknown roles 'mayor'"),
    ({"staff_roles": "teacher"}, "staff_roles: must be a tuple"),
    ({"default_enabled": "yes"}, "default_enabled: must be True or False"),
    ({"order": -1}, "order: must be an integer"),
])
def test_malformed_manifests_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(ManifestError) as raised:
        _config(**changes).manifest()
    text = str(raised.value)
    assert "Mini-app manifest" in text and "(app 'tests.miniapps.sample_app')" in text
    assert message in text, text


def test_every_problem_is_listed_at_once():
    with pytest.raises(ManifestError) as raised:
        _config(category="food", icon="", staff_roles=("mayor",)).manifest()
    assert [line.split(":")[0].strip("- ") for line in str(raised.value).splitlines()[1:]] == [
        "category", "icon", "staff_roles"]


def test_duplicate_ids_and_overlapping_mounts_are_refused():
    fresh = MiniAppRegistry()
    with pytest.raises(ManifestError, match="mini-app id 'sample' is declared by both"):
        fresh.discover([_config(), _config(api_mount="other/")])
    with pytest.raises(ManifestError, match="api_mount 'sample/' of 'second' overlaps the one of 'sample'"):
        fresh.discover([_config(), _config(miniapp_id="second")])


def test_urls_are_mounted_from_the_manifest():
    fresh = MiniAppRegistry()
    fresh.discover([_config(staff_api_mount="sample/", staff_api_urls="tests.miniapps.sample_app.api.urls")])
    resolver = URLResolver(RegexPattern(r"^/api/v1/"), fresh.api_urlpatterns())
    assert resolver.resolve("/api/v1/sample/ping/").url_name == "sample-ping"
    assert resolver.resolve("/api/v1/staff/sample/ping/").url_name == "sample-ping"
    # And in the real URL conf, the built-in mini-apps' APIs are where their manifests say.
    assert resolve("/api/v1/announcements/").func.view_class is AnnouncementListApi
    assert resolve("/api/v1/staff/feedback/3/reply/").func.view_class is StaffFeedbackReplyApi
    assert resolve("/console/feedback/").url_name == "inbox"


def test_a_malformed_manifest_stops_django_from_starting():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.miniapps.broken_settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup(); print('started')"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "ManifestError: Mini-app manifest tests.miniapps.broken_app.apps.BrokenConfig" in result.stderr
    assert "category: 'food' is not one of" in result.stderr


def test_the_same_settings_without_the_broken_app_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "superapp.settings",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup(); print('started')"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_console_navigation_sections_match_the_manifests():
    """The console shows a mini-app's pages to the roles its manifest names (and guards them so)."""
    from admin_console.access import SECTIONS_BY_KEY

    for miniapp_id, url_name in [("announcements", "announcements_console:index"),
                                 ("feedback", "feedback_console:inbox"),
                                 ("attendance", "attendance_console:index"),
                                 ("community", "community_console:queue")]:
        section = SECTIONS_BY_KEY[miniapp_id]
        assert set(section.roles) == set(registry.get(miniapp_id).staff_roles)
        assert section.url_name == url_name
