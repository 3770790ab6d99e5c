"""Moderation: residents report, community moderators work the queue (API and console), hide and
restore posts and comments, suspend a member in a district; every action is audited; roles enforced."""
from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from accounts.roles import Role
from miniapps.community.models import PostReport
from tests.base import STAFF_ROLES, TEST_PASSWORD, TenantApiClient, assert_num_queries


def report(member, post_id: int, reason: str = "spam", detail: str = ""):
    return member.client().post(f"/api/v1/community/posts/{post_id}/reports/", {"reason": reason, "detail": detail},
                                format="json")


def test_done_when_reported_post_is_hidden_by_a_moderator(board, saga):
    author, reader, other = board.member("投稿者"), board.member("読者"), board.member()
    post = board.post(author, title="怪しい儲け話")
    first = report(reader, post["id"], "spam", "勧誘です")
    assert first.status_code == 201 and first.json()["status"] == "open"
    again = report(reader, post["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_reported"
    report(other, post["id"], "abuse")
    bad = report(other, post["id"], "boring")
    assert bad.status_code == 400 and "reason" in bad.json()["error"]["fields"]

    moderator = saga.client("community_moderator")
    queue = moderator.get("/api/v1/staff/community/reports/").json()
    assert [(row["id"], row["report_total"]) for row in queue["results"]] == [(post["id"], 2)]

    hidden = moderator.post(f"/api/v1/staff/community/posts/{post['id']}/hide/", {"reason": "スパム"}, format="json")
    assert hidden.status_code == 200 and hidden.json()["status"] == "hidden"
    assert reader.client().get(f"/api/v1/community/districts/{board.district.id}/posts/").json()["results"] == []
    assert reader.client().get(f"/api/v1/community/posts/{post['id']}/").status_code == 404
    assert reader.client().post(f"/api/v1/community/posts/{post['id']}/comments/", {"body": "x"},
                                format="json").status_code == 404
    # The author still sees it, marked hidden.
    assert author.client().get(f"/api/v1/community/posts/{post['id']}/").json()["status"] == "hidden"
    assert moderator.get("/api/v1/staff/community/reports/").json()["results"] == []
    assert [row["id"] for row in moderator.get("/api/v1/staff/community/hidden-posts/").json()["results"]] == [post["id"]]
    with board.tenant.schema():
        assert set(PostReport.objects.values_list("status", flat=True)) == {"actioned"}
        audit = AuditEvent.objects.get(action="community.post_hidden")
        assert audit.actor == saga.staff["community_moderator"] and audit.target_id == str(post["id"])
        assert audit.data["reports_resolved"] == 2

    restored = moderator.post(f"/api/v1/staff/community/posts/{post['id']}/restore/")
    assert restored.json()["status"] == "visible"
    assert len(reader.client().get(f"/api/v1/community/districts/{board.district.id}/posts/").json()["results"]) == 1
    with board.tenant.schema():
        assert AuditEvent.objects.filter(action="community.post_restored").count() == 1


def test_dismissing_reports(board, saga):
    author, reader = board.member(), board.member()
    post = board.post(author)
    report(reader, post["id"])
    moderator = saga.client("community_moderator")
    assert moderator.post(f"/api/v1/staff/community/posts/{post['id']}/dismiss-reports/").json() == {"dismissed": 1}
    assert moderator.get("/api/v1/staff/community/reports/").json()["results"] == []
    assert [r["id"] for r in moderator.get("/api/v1/staff/community/reports/?status=dismissed").json()["results"]] == [
        post["id"]]
    assert moderator.get("/api/v1/staff/community/reports/?status=nope").status_code == 400


def test_comment_hide_and_restore(board, saga):
    author, rude = board.member(), board.member()
    post = board.post(author)
    comment = rude.client().post(f"/api/v1/community/posts/{post['id']}/comments/", {"body": "ひどい言葉"},
                                 format="json").json()
    moderator = saga.client("community_moderator")
    assert moderator.post(f"/api/v1/staff/community/comments/{comment['id']}/hide/").json()["status"] == "hidden"
    assert author.client().get(f"/api/v1/community/posts/{post['id']}/comments/").json()["results"] == []
    assert author.client().get(f"/api/v1/community/posts/{post['id']}/").json()["comment_count"] == 0
    assert moderator.post(f"/api/v1/staff/community/comments/{comment['id']}/restore/").json()["status"] == "visible"
    assert author.client().get(f"/api/v1/community/posts/{post['id']}/").json()["comment_count"] == 1
    with board.tenant.schema():
        assert AuditEvent.objects.filter(action__in=["community.comment_hidden", "community.comment_restored"]).count() == 2


def test_suspension_blocks_posting_in_that_district_only(board, saga):
    troll = board.member("荒らし")
    moderator = saga.client("community_moderator")
    created = moderator.post("/api/v1/staff/community/suspensions/",
                             {"user": troll.id, "district": board.district.id, "reason": "度重なる迷惑投稿"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["is_active"] is True
    duplicate = moderator.post("/api/v1/staff/community/suspensions/",
                               {"user": troll.id, "district": board.district.id, "reason": "x"}, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "already_suspended"

    blocked = troll.client().post(f"/api/v1/community/districts/{board.district.id}/posts/",
                                  {"title": "x", "category": "notice"}, format="json")
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "suspended_in_district"
    meta = troll.client().get("/api/v1/community/meta/").json()
    assert meta["can_write"] is False and meta["write_blocked_reason"] == "suspended_in_district"
    # Reading, RSVPs and thank-yous stay open to a suspended member.
    event_id = board.event(board.member())["id"]
    assert troll.client().post(f"/api/v1/community/events/{event_id}/rsvp/", {"answer": "join"},
                               format="json").status_code == 200
    assert moderator.get("/api/v1/staff/community/suspensions/").json()["results"][0]["user"]["id"] == troll.id

    lifted = moderator.post(f"/api/v1/staff/community/suspensions/{created.json()['id']}/lift/")
    assert lifted.json()["is_active"] is False
    assert board.post(troll)["author"]["id"] == troll.id
    with board.tenant.schema():
        actions = set(AuditEvent.objects.filter(action__startswith="community.member_").values_list("action", flat=True))
    assert actions == {"community.member_suspended", "community.member_suspension_lifted"}


@pytest.mark.parametrize("body, field", [
    ({"user": 10**9, "district": 1, "reason": "x"}, "user"),
    ({"district": 1, "reason": "x"}, "user"),
    ({"user": 1, "district": 1, "reason": ""}, "reason"),
    ({"user": 1, "district": 1, "reason": "x", "until": "2000-01-01T00:00:00+09:00"}, "until"),
])
def test_bad_suspension_input(board, saga, body, field):
    member = board.member()
    body = {**body}
    if body.get("user") == 1:
        body["user"] = member.id
    if body.get("district") == 1:
        body["district"] = board.district.id
    response = saga.client("community_moderator").post("/api/v1/staff/community/suspensions/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]


STAFF_ENDPOINTS = [
    ("get", "/api/v1/staff/community/reports/"),
    ("get", "/api/v1/staff/community/hidden-posts/"),
    ("post", "/api/v1/staff/community/posts/{post}/hide/"),
    ("post", "/api/v1/staff/community/posts/{post}/restore/"),
    ("post", "/api/v1/staff/community/posts/{post}/dismiss-reports/"),
    ("get", "/api/v1/staff/community/suspensions/"),
]


@pytest.mark.parametrize("who", ["resident", "member", *[r for r in STAFF_ROLES if r != Role.COMMUNITY_MODERATOR]])
@pytest.mark.parametrize("method, path", STAFF_ENDPOINTS)
def test_only_moderators_and_admins_reach_the_staff_api(board, saga, who, method, path):
    post = board.post(board.member())
    client = board.member().client() if who == "member" else saga.client(who)
    response = getattr(client, method)(path.format(post=post["id"]), {}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("who", ["admin", Role.COMMUNITY_MODERATOR])
def test_moderator_and_admin_may(board, saga, who):
    post = board.post(board.member())
    assert saga.client(who).post(f"/api/v1/staff/community/posts/{post['id']}/hide/", {}, format="json").status_code == 200


def test_staff_api_object_lookups_are_per_municipality(board, kanzaki_board, kanzaki):
    saga_post = board.post(board.member())
    with kanzaki_board.tenant.schema():
        from miniapps.community.models import Post

        assert not Post.objects.filter(pk=saga_post["id"]).exists()
    response = kanzaki.client("community_moderator").post(f"/api/v1/staff/community/posts/{saga_post['id']}/hide/")
    assert response.status_code == 404


@pytest.mark.parametrize("count", [1, 5])
def test_report_queue_query_count_is_constant(board, saga, count):
    for _ in range(count):
        post = board.post(board.member())
        report(board.member(), post["id"])
    client = saga.client("community_moderator")
    client.get("/api/v1/me/")
    # SET search_path, token, role groups, count, page of posts (+district, author, report totals).
    with assert_num_queries(5):
        response = client.get("/api/v1/staff/community/reports/")
    assert len(response.json()["results"]) == count


# --- Console ------------------------------------------------------------------------------------------
def console(tenant, username: str | None):
    """A browser-like client signed in through the console's own login form."""
    client = TenantApiClient(tenant.host)
    if username:
        response = client.post("/console/login/", {"username": username, "password": TEST_PASSWORD})
        assert response.status_code == 302, response.content[:300]
    return client


def _moderator_username(tenant) -> str:
    return tenant.staff[Role.COMMUNITY_MODERATOR].username


def test_console_queue_and_post_page_escape_resident_text(board, saga):
    author = board.member("<b>太郎</b>")
    post = board.post(author, title="<script>alert('x')</script>", body="<img src=x onerror=alert(1)>\n2行目")
    comment = board.member().client().post(f"/api/v1/community/posts/{post['id']}/comments/",
                                           {"body": "<iframe src=//evil>"}, format="json").json()
    report(board.member(), post["id"], "abuse", "<a href='javascript:alert(1)'>詳細</a>")
    client = console(saga, _moderator_username(saga))

    queue = client.get("/console/community/")
    assert queue.status_code == 200
    html = queue.content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;b&gt;太郎&lt;/b&gt;" in html

    page = client.get(f"/console/community/posts/{post['id']}/")
    assert page.status_code == 200
    html = page.content.decode()
    for raw in ("<script>alert", "<img src=x", "<iframe", "<a href='javascript"):
        assert raw not in html, raw
    assert "&lt;img src=x onerror=alert(1)&gt;<br>2行目" in html
    assert "&lt;iframe src=//evil&gt;" in html

    hidden = client.post(f"/console/community/posts/{post['id']}/hide/", {"reason": "不適切"})
    assert hidden.status_code == 302
    assert "?done=hidden" in hidden["Location"]
    assert client.post(f"/console/community/comments/{comment['id']}/hide/").status_code == 302
    suspended = client.post(f"/console/community/posts/{post['id']}/suspend-author/", {"reason": "荒らし", "days": "7"})
    assert suspended.status_code == 302
    again = client.post(f"/console/community/posts/{post['id']}/suspend-author/", {"reason": "荒らし"})
    assert again.status_code == 400 and "すでに停止中" in again.content.decode()
    listing = client.get("/console/community/suspensions/")
    assert listing.status_code == 200 and "&lt;b&gt;太郎&lt;/b&gt;" in listing.content.decode()
    with board.tenant.schema():
        actions = set(AuditEvent.objects.filter(actor=saga.staff[Role.COMMUNITY_MODERATOR])
                      .values_list("action", flat=True))
    assert {"community.post_hidden", "community.comment_hidden", "community.member_suspended"} <= actions
    assert client.get("/console/community/?view=hidden").status_code == 200


CONSOLE_PAGES = [("get", "/console/community/"), ("get", "/console/community/posts/{post}/"),
                 ("post", "/console/community/posts/{post}/hide/"), ("post", "/console/community/posts/{post}/restore/"),
                 ("get", "/console/community/suspensions/"), ("get", "/console/community/?view=events"),
                 ("post", "/console/community/posts/{post}/open-data/")]


@pytest.mark.parametrize("role", [r for r in STAFF_ROLES if r != Role.COMMUNITY_MODERATOR])
@pytest.mark.parametrize("method, path", CONSOLE_PAGES)
def test_console_pages_refuse_other_roles(board, saga, role, method, path):
    post = board.post(board.member())
    response = getattr(console(saga, saga.staff[role].username), method)(path.format(post=post["id"]))
    assert response.status_code == 403


@pytest.mark.parametrize("method, path", CONSOLE_PAGES)
def test_console_pages_send_anonymous_to_login(board, saga, method, path):
    post = board.post(board.member())
    response = getattr(console(saga, None), method)(path.format(post=post["id"]))
    assert response.status_code == 302 and "/console/login/" in response["Location"]


def test_console_is_per_municipality(board, saga, kanzaki):
    post = board.post(board.member())
    # Saga's moderator cannot sign in on Kanzaki's host (the account does not exist there)...
    foreign = TenantApiClient(kanzaki.host)
    refused = foreign.post("/console/login/", {"username": _moderator_username(saga), "password": TEST_PASSWORD})
    assert refused.status_code == 400
    # ...and Kanzaki's moderator does not see Saga's post.
    kanzaki_moderator = console(kanzaki, _moderator_username(kanzaki))
    assert kanzaki_moderator.get(f"/console/community/posts/{post['id']}/").status_code == 404
    assert "怪しい" not in kanzaki_moderator.get("/console/community/").content.decode()


def test_console_admin_may(board, saga):
    post = board.post(board.member())
    client = console(saga, saga.admin.username)
    assert client.get(f"/console/community/posts/{post['id']}/").status_code == 200


@pytest.mark.parametrize("count", [1, 5])
def test_console_queue_query_count_is_constant(board, saga, count):
    for _ in range(count):
        report(board.member(), board.post(board.member())["id"])
    client = console(saga, _moderator_username(saga))
    client.get("/console/community/")
    # SET search_path, session, user, role groups, queue (+district, author, counts).
    with assert_num_queries(5):
        response = client.get("/console/community/")
    assert response.status_code == 200
