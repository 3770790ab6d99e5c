"""Category follows and the new-post push: only district members who follow the category (never the
author, never other districts, never inactive accounts), once per post; and the meta endpoint."""
from __future__ import annotations

from accounts.models import User
from miniapps.community.models import Post
from miniapps.community.tasks import notify_new_post
from tests.base import assert_num_queries

from .conftest import community_notifications


def follow(member, categories):
    return member.client().put("/api/v1/community/me/follows/", {"categories": categories}, format="json")


def test_follows_are_set_and_validated(board):
    alice = board.member()
    assert alice.client().get("/api/v1/community/me/follows/").json() == {"categories": []}
    assert follow(alice, ["disaster", "childcare", "disaster"]).json() == {"categories": ["childcare", "disaster"]}
    assert follow(alice, ["history"]).json() == {"categories": ["history"]}
    bad = follow(alice, ["weather"])
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert alice.client().get("/api/v1/community/me/follows/").json() == {"categories": ["history"]}


def test_new_post_pushes_to_category_followers_of_the_district_only(board, django_capture_on_commit_callbacks):
    author, follower, other_category, not_following = board.member(), board.member(), board.member(), board.member()
    outsider, inactive, muted = board.member(district=board.other_district), board.member(), board.member()
    for member in (author, follower, outsider, inactive, muted):
        follow(member, ["disaster"])
    # A follower who muted community pushes in the notification settings is left out by the pipeline.
    assert muted.client().put("/api/v1/me/notification-settings/", {"muted_topics": ["community"]},
                              format="json").status_code == 200
    follow(other_category, ["history"])
    with board.tenant.schema():
        User.objects.filter(pk=inactive.id).update(is_active=False)

    with django_capture_on_commit_callbacks() as callbacks:
        post = board.post(author, title="避難所の鍵の場所が変わりました", body="公民館の鍵は…", category="disaster")
    assert len(callbacks) == 1  # notify_new_post is sent after the post commits

    with board.tenant.schema():
        assert notify_new_post(post["id"]) == 1
        assert notify_new_post(post["id"]) == 0  # idempotent
        assert Post.objects.get(pk=post["id"]).notified_at is not None
    [notification] = community_notifications(board.tenant)
    # The explicit list is the district's followers; the pipeline then leaves out whoever muted it.
    assert notification.audience == {"user_ids": sorted([follower.id, muted.id])}
    assert notification.title.startswith(f"【{board.district.name}】防災") and notification.topic == "community"
    assert notification.deep_link == f"/community/posts/{post['id']}"
    with board.tenant.schema():
        from notifications import pipeline

        pipeline.dispatch(notification.id)
    assert [item["title"] for item in follower.client().get("/api/v1/inbox/").json()["results"]] == [notification.title]
    for member in (muted, not_following, other_category, outsider, author):
        assert member.client().get("/api/v1/inbox/").json()["results"] == [], member.user.nickname


def test_no_push_for_a_post_hidden_before_the_task_ran(board, saga):
    author, follower = board.member(), board.member()
    follow(follower, ["notice"])
    post = board.post(author)
    saga.client("community_moderator").post(f"/api/v1/staff/community/posts/{post['id']}/hide/", {}, format="json")
    with board.tenant.schema():
        assert notify_new_post(post["id"]) == 0
    assert community_notifications(board.tenant) == []


def test_meta_describes_categories_bounds_and_write_rights(board, saga):
    member = board.member()
    client = member.client()
    client.get("/api/v1/me/")
    with assert_num_queries(4):  # SET search_path, token, verified citizen ID, suspension
        meta = client.get("/api/v1/community/meta/").json()
    assert [c["id"] for c in meta["categories"]] == ["notice", "event", "disaster", "childcare", "traffic_safety",
                                                     "history", "other"]
    assert [c["name"] for c in meta["categories"]] == ["お知らせ", "イベント", "防災", "子育て", "交通安全", "歴史", "その他"]
    assert meta["map_bounds"] == {"min_lat": 33.15, "max_lat": 33.5, "min_lng": 130.15, "max_lng": 130.45}
    assert meta["can_write"] is True and meta["my_district_id"] == board.district.id
    assert meta["max_images_per_post"] == 4
    staff_meta = saga.client("teacher").get("/api/v1/community/meta/").json()
    assert staff_meta["can_write"] is False and staff_meta["write_blocked_reason"] == "not_district_member"


def test_write_rule_seam_requires_verification_once_citizen_id_is_installed(board, monkeypatch):
    """The one write-rule function: once the citizen ID app says a resident is not verified, writing
    is refused with verification_required while reading stays open."""
    from miniapps.community import access

    member = board.member()
    monkeypatch.setattr(access, "resident_is_verified", lambda user: False)
    response = member.client().post(f"/api/v1/community/districts/{board.district.id}/posts/",
                                    {"title": "x", "category": "notice"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "verification_required"
    assert member.client().get(f"/api/v1/community/districts/{board.district.id}/posts/").status_code == 200
