"""Category follows and the new-post push: only district members who follow the category (never the
author, never other districts, never inactive accounts), once per post; and the meta endpoint."""
from __future__ import annotations

from accounts.models import User
from miniapps.community.models import Post
from miniapps.community.tasks import notify_new_post
from tests.base import assert_num_queries


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


def test_new_post_pushes_to_category_followers_of_the_district_only(board, pushes, django_capture_on_commit_callbacks):
    author, follower, other_category, not_following = board.member(), board.member(), board.member(), board.member()
    outsider, inactive = board.member(district=board.other_district), board.member()
    for member in (author, follower, outsider, inactive):
        follow(member, ["disaster"])
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
    assert len(pushes) == 1
    assert pushes[0]["user_ids"] == [follower.id]
    push = pushes[0]["push"]
    assert push.title.startswith(f"【{board.district.name}】防災") and push.topic == "community"
    assert push.data == {"kind": "community_post", "post_id": str(post["id"]), "district_id": str(board.district.id),
                         "category": "disaster"}


def test_no_push_for_a_post_hidden_before_the_task_ran(board, pushes, saga):
    author, follower = board.member(), board.member()
    follow(follower, ["notice"])
    post = board.post(author)
    saga.client("community_moderator").post(f"/api/v1/staff/community/posts/{post['id']}/hide/", {}, format="json")
    with board.tenant.schema():
        assert notify_new_post(post["id"]) == 0
    assert pushes == []


def test_meta_describes_categories_bounds_and_write_rights(board, saga):
    member = board.member()
    client = member.client()
    client.get("/api/v1/me/")
    with assert_num_queries(3):  # SET search_path, token, suspension check
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
