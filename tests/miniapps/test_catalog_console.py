"""The console's catalog page (/console/miniapps/): enable/disable and reorder built-in and external
mini-apps through the catalog services, with the same effect as the staff API. The role matrix,
anonymous and cross-tenant session tests come from tests/admin_console/routes.py."""
from __future__ import annotations

import re

from accounts.models import AuditEvent
from tests.admin_console.conftest import console_client
from tests.base import assert_num_queries

from .helpers import add_to_catalog, external_app

PAGE = "/console/miniapps/"
SCRIPT = "<script>alert(1)</script>"


def _api_catalog(tenant) -> list[tuple[str, bool]]:
    return [(item["id"], item["enabled"]) for item in tenant.client("admin").get("/api/v1/staff/miniapps/").json()]


def _page_order(html: str) -> list[str]:
    return re.findall(r'<tr id="miniapp-([a-z0-9-]+)">', html)


def test_the_page_lists_the_catalog_in_the_apis_order(saga):
    external_app(saga, "saga-bus", name="佐賀バスナビ", owner_name="佐賀バス株式会社")
    add_to_catalog(saga, "saga-bus", enabled=False)
    html = console_client(saga, "admin").get(PAGE).content.decode()
    api = _api_catalog(saga)
    assert _page_order(html) == [miniapp_id for miniapp_id, _ in api]
    row = html[html.index('<tr id="miniapp-saga-bus">'):]
    row = row[:row.index("</tr>")]
    assert "佐賀バスナビ" in row and "外部" in row and "佐賀市 · 佐賀バス株式会社" in row and "非公開" in row
    assert "公開する" in row


def test_disable_and_enable_a_miniapp(saga):
    client = console_client(saga, "admin")
    response = client.post("/console/miniapps/garbage/enabled/", {"enabled": "0"})
    assert response.status_code == 302 and response["Location"] == PAGE
    assert ("garbage", False) in _api_catalog(saga)
    page = client.get(PAGE).content.decode()
    assert "「ごみカレンダー」を非公開にしました。" in page
    with saga.schema():
        assert AuditEvent.objects.filter(action="miniapp.disabled").count() == 1
    home = saga.client("resident").get("/api/v1/miniapps/").json()
    assert "garbage" not in {app["id"] for category in home["categories"] for app in category["miniapps"]}

    client.post("/console/miniapps/garbage/enabled/", {"enabled": "1"})
    assert ("garbage", True) in _api_catalog(saga)
    with saga.schema():
        assert AuditEvent.objects.filter(action="miniapp.enabled").count() == 1


def test_an_external_miniapp_can_be_enabled_and_moved(saga):
    external_app(saga, "saga-museum")
    add_to_catalog(saga, "saga-museum", enabled=False)
    client = console_client(saga, "admin")
    client.post("/console/miniapps/saga-museum/enabled/", {"enabled": "1"})
    assert ("saga-museum", True) in _api_catalog(saga)
    before = [miniapp_id for miniapp_id, _ in _api_catalog(saga)]
    assert before[-1] == "saga-museum"
    assert client.post("/console/miniapps/saga-museum/move/", {"direction": "up"}).status_code == 302
    after = [miniapp_id for miniapp_id, _ in _api_catalog(saga)]
    assert after == before[:-2] + ["saga-museum", before[-2]]


def test_move_up_and_down(saga):
    client = console_client(saga, "admin")
    order = _page_order(client.get(PAGE).content.decode())
    client.post(f"/console/miniapps/{order[0]}/move/", {"direction": "down"})
    assert _page_order(client.get(PAGE).content.decode()) == [order[1], order[0], *order[2:]]
    assert [miniapp_id for miniapp_id, _ in _api_catalog(saga)] == [order[1], order[0], *order[2:]]
    client.post(f"/console/miniapps/{order[0]}/move/", {"direction": "up"})
    assert _page_order(client.get(PAGE).content.decode()) == order
    with saga.schema():
        assert AuditEvent.objects.filter(action="miniapp.reordered").count() == 2
    # The first one cannot go further up: nothing changes, nothing is audited.
    assert client.post(f"/console/miniapps/{order[0]}/move/", {"direction": "up"}).status_code == 302
    with saga.schema():
        assert AuditEvent.objects.filter(action="miniapp.reordered").count() == 2


def test_bad_posts_and_unknown_miniapps(saga):
    client = console_client(saga, "admin")
    bad = client.post("/console/miniapps/garbage/move/", {"direction": "sideways"})
    assert bad.status_code == 400 and "操作が正しくありません。もう一度お試しください。" in bad.content.decode()
    assert client.post("/console/miniapps/garbage/enabled/", {"enabled": "maybe"}).status_code == 400
    for path in ("/console/miniapps/no-such-app/enabled/", "/console/miniapps/no-such-app/move/"):
        missing = client.post(path, {"enabled": "0", "direction": "up"})
        assert missing.status_code == 404 and "見つかりません。" in missing.content.decode()
    with saga.schema():
        assert not AuditEvent.objects.filter(action__startswith="miniapp.").exists()


def test_another_municipalitys_external_miniapp_is_not_in_this_catalog(saga, kanzaki):
    external_app(kanzaki, "kanzaki-only")
    add_to_catalog(kanzaki, "kanzaki-only")
    client = console_client(saga, "admin")
    assert "kanzaki-only" not in client.get(PAGE).content.decode()
    assert client.post("/console/miniapps/kanzaki-only/enabled/", {"enabled": "0"}).status_code == 404
    assert ("kanzaki-only", True) in _api_catalog(kanzaki)


def test_publisher_written_names_are_escaped(saga):
    external_app(saga, "saga-xss", name=f"名前{SCRIPT}", owner_name=f"会社{SCRIPT}")
    add_to_catalog(saga, "saga-xss")
    html = console_client(saga, "admin").get(PAGE).content.decode()
    assert SCRIPT not in html and "名前&lt;script&gt;" in html and "会社&lt;script&gt;" in html


def test_query_count_is_constant(saga):
    client = console_client(saga, "admin")
    client.get(PAGE)
    with assert_num_queries(5):  # search_path, session, user, roles; the catalog rows
        client.get(PAGE)
    for index in range(4):
        external_app(saga, f"saga-extra-{index}")
        add_to_catalog(saga, f"saga-extra-{index}")
    with assert_num_queries(5):
        html = client.get(PAGE).content.decode()
    assert len(_page_order(html)) >= 9
