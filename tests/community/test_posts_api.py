"""District boards through the API: posting, the cursor-paginated feed, read/write rules, edits,
comments, and constant query counts."""
from __future__ import annotations

import pytest

from miniapps.community.models import Post
from tests.base import assert_num_queries

from .conftest import jpeg_with_gps, upload


def feed_url(district_id: int, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/community/districts/{district_id}/posts/" + (f"?{query}" if query else "")


def test_member_posts_and_neighbour_reads_it(board):
    alice, bob = board.member("アリス"), board.member("ボブ")
    created = board.post(alice, title="防災訓練のお知らせ", body="日曜の朝9時から", category="disaster",
                         tags=["#Bousai", "訓練", "bousai"])
    assert created["author"] == {"id": alice.id, "nickname": "アリス"}
    assert created["tags"] == ["bousai", "訓練"]
    assert created["category_label"] == "防災"
    assert created["is_mine"] is True and created["event"] is None and created["location"] is None

    feed = bob.client().get(feed_url(board.district.id))
    assert feed.status_code == 200
    body = feed.json()
    assert set(body) == {"next", "previous", "results"}
    assert [post["id"] for post in body["results"]] == [created["id"]]
    assert body["results"][0]["is_mine"] is False


def test_feed_is_newest_first_with_a_cursor_stable_under_new_posts(board):
    alice = board.member()
    ids = [board.post(alice, title=f"投稿{i}")["id"] for i in range(5)]
    client = alice.client()
    first = client.get(feed_url(board.district.id, page_size=2)).json()
    assert [p["id"] for p in first["results"]] == [ids[4], ids[3]]
    assert first["next"] and "cursor=" in first["next"]
    board.post(alice, title="割り込み")  # a new post must not shift the next page
    second = client.get(first["next"]).json()
    assert [p["id"] for p in second["results"]] == [ids[2], ids[1]]
    third = client.get(second["next"]).json()
    assert [p["id"] for p in third["results"]] == [ids[0]]
    assert third["next"] is None


def test_feed_filters_by_category_and_tag(board):
    alice = board.member()
    disaster = board.post(alice, category="disaster", tags=["防災"])["id"]
    board.post(alice, category="history", tags=["城"])
    client = alice.client()
    assert [p["id"] for p in client.get(feed_url(board.district.id, category="disaster")).json()["results"]] == [disaster]
    assert [p["id"] for p in client.get(feed_url(board.district.id, tag="防災")).json()["results"]] == [disaster]
    bad = client.get(feed_url(board.district.id, category="weather"))
    assert bad.status_code == 400 and "category" in bad.json()["error"]["fields"]
    bad_tag = client.get(feed_url(board.district.id, tag="a b"))
    assert bad_tag.status_code == 400 and bad_tag.json()["error"]["code"] == "validation_error"


def test_non_member_can_neither_read_nor_post(board):
    outsider = board.member("よその人", district=board.other_district)
    no_district = board.member("未設定")
    with board.tenant.schema():
        type(no_district.user).objects.filter(pk=no_district.id).update(district=None)
    for member in (outsider, no_district):
        read = member.client().get(feed_url(board.district.id))
        assert read.status_code == 403 and read.json()["error"]["code"] == "not_district_member"
        write = member.client().post(feed_url(board.district.id), {"title": "x", "category": "notice"}, format="json")
        assert write.status_code == 403 and write.json()["error"]["code"] == "not_district_member"
    with board.tenant.schema():
        assert not Post.objects.exists()


def test_post_in_another_district_is_404_by_id(board):
    alice, outsider = board.member(), board.member(district=board.other_district)
    post = board.post(alice)
    for path in (f"/api/v1/community/posts/{post['id']}/", f"/api/v1/community/posts/{post['id']}/comments/"):
        response = outsider.client().get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert outsider.client().post(f"/api/v1/community/posts/{post['id']}/thanks/").status_code == 404


def test_post_of_another_municipality_is_404(board, kanzaki_board):
    kanzaki_post = kanzaki_board.post(kanzaki_board.member())
    saga_member = board.member()
    with board.tenant.schema():
        assert not Post.objects.exists()  # the id only exists in Kanzaki's schema
    for path in ("", "comments/", "thanks/", "reports/"):
        method = "get" if path in ("", "comments/") else "post"
        response = getattr(saga_member.client(), method)(f"/api/v1/community/posts/{kanzaki_post['id']}/{path}",
                                                         {"reason": "spam"}, format="json")
        assert response.status_code == 404, (path, response.content)
    # A Kanzaki token on Saga's host is unknown there.
    foreign = kanzaki_board.members[0].client()
    foreign.defaults["HTTP_HOST"] = board.tenant.host
    assert foreign.get(feed_url(board.district.id)).status_code == 401


def test_staff_without_moderator_role_cannot_read_boards(board, saga):
    board.post(board.member())
    for role in ("teacher", "shelter_staff", "analyst"):
        response = saga.client(role).get(feed_url(board.district.id))
        assert response.status_code == 403, role
    moderator = saga.client("community_moderator").get(feed_url(board.district.id))
    assert moderator.status_code == 200 and len(moderator.json()["results"]) == 1
    write = saga.client("community_moderator").post(feed_url(board.district.id), {"title": "x", "category": "notice"},
                                                    format="json")
    assert write.status_code == 403 and write.json()["error"]["code"] == "not_district_member"


@pytest.mark.parametrize("body, field", [
    ({"category": "notice"}, "title"),
    ({"title": "   ", "category": "notice"}, "title"),
    ({"title": "x", "category": "weather"}, "category"),
    ({"title": "x", "category": "notice", "tags": ["a", "b", "c", "d", "e", "f"]}, "tags"),
    ({"title": "x", "category": "notice", "tags": ["two words"]}, "tags"),
    ({"title": 0, "category": "notice"}, "title"),
    ({"title": "x" * 101, "category": "notice"}, "title"),
    ({"title": "x", "category": "notice", "image_ids": [1, 2, 3, 4, 5]}, "image_ids"),
    ({"title": "x", "category": "notice", "location": {"lat": True, "lng": 130.3}}, "location.lat"),
    ({"title": "x", "category": "notice", "event": {"place": "x"}}, "event.starts_at"),
])
def test_bad_post_input_is_400_with_the_field(board, body, field):
    response = board.member().client().post(feed_url(board.district.id), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"], error
    assert error["message"] and error["message_en"]


def test_author_edits_and_withdraws_others_cannot(board):
    alice, bob = board.member(), board.member()
    post = board.post(alice, title="旧タイトル")
    url = f"/api/v1/community/posts/{post['id']}/"
    assert bob.client().patch(url, {"title": "乗っ取り"}, format="json").status_code == 403
    edited = alice.client().patch(url, {"title": "新タイトル", "tags": ["夏祭り"]}, format="json")
    assert edited.status_code == 200 and edited.json()["title"] == "新タイトル" and edited.json()["tags"] == ["夏祭り"]
    assert bob.client().delete(url).status_code == 403
    assert alice.client().delete(url).status_code == 204
    assert bob.client().get(url).status_code == 404
    assert bob.client().get(feed_url(board.district.id)).json()["results"] == []


def test_comments_are_oldest_first_and_counted(board):
    alice, bob = board.member(), board.member()
    post = board.post(alice)
    url = f"/api/v1/community/posts/{post['id']}/comments/"
    first = bob.client().post(url, {"body": "参加します"}, format="json")
    assert first.status_code == 201 and first.json()["author"]["id"] == bob.id
    alice.client().post(url, {"body": "ありがとうございます"}, format="json")
    listing = alice.client().get(url).json()
    assert [c["body"] for c in listing["results"]] == ["参加します", "ありがとうございます"]
    assert alice.client().get(f"/api/v1/community/posts/{post['id']}/").json()["comment_count"] == 2
    assert alice.client().delete(f"/api/v1/community/comments/{first.json()['id']}/").status_code == 403
    assert bob.client().delete(f"/api/v1/community/comments/{first.json()['id']}/").status_code == 204
    assert alice.client().get(f"/api/v1/community/posts/{post['id']}/").json()["comment_count"] == 1
    empty = bob.client().post(url, {"body": "  "}, format="json")
    assert empty.status_code == 400 and "body" in empty.json()["error"]["fields"]


def _fill(board, author, count: int, *, with_images: bool):
    client = author.client()
    for index in range(count):
        image_ids = []
        if with_images:
            image_ids = [upload(author, jpeg_with_gps(size=(64, 48))).json()["id"] for _ in range(2)]
        post = board.post(author, title=f"投稿{index}", image_ids=image_ids, category="event" if index % 2 else "notice",
                          **({"event": {"starts_at": "2099-01-01T10:00:00+09:00", "place": "公民館", "capacity": 5}}
                             if index % 2 else {}))
        client.post(f"/api/v1/community/posts/{post['id']}/comments/", {"body": "こんにちは"}, format="json")


@pytest.mark.parametrize("count", [1, 6])
def test_feed_query_count_is_constant(board, count):
    alice, bob = board.member(), board.member()
    _fill(board, alice, count, with_images=True)
    client = bob.client()
    client.get("/api/v1/me/")  # token last-used stamp written once, outside the measured request
    # SET search_path, token+user+district, page of posts (+author, event, my RSVP, my thanks), images.
    with assert_num_queries(4):
        response = client.get(feed_url(board.district.id))
    assert response.status_code == 200 and len(response.json()["results"]) == count
    assert all(len(post["images"]) == 2 for post in response.json()["results"])


@pytest.mark.parametrize("count", [1, 5])
def test_comment_list_query_count_is_constant(board, count):
    alice, bob = board.member(), board.member()
    post = board.post(alice)
    for index in range(count):
        bob.client().post(f"/api/v1/community/posts/{post['id']}/comments/", {"body": f"c{index}"}, format="json")
    client = alice.client()
    client.get("/api/v1/me/")
    # SET search_path, token, post, comments page (+author, thanked_by_me).
    with assert_num_queries(4):
        response = client.get(f"/api/v1/community/posts/{post['id']}/comments/")
    assert len(response.json()["results"]) == count


def test_post_detail_query_count(board):
    alice = board.member()
    post = board.post(alice, image_ids=[upload(alice, jpeg_with_gps(size=(32, 32))).json()["id"]])
    client = alice.client()
    client.get("/api/v1/me/")
    with assert_num_queries(4):
        response = client.get(f"/api/v1/community/posts/{post['id']}/")
    assert response.status_code == 200 and len(response.json()["images"]) == 1


@pytest.mark.parametrize("page_size", ["abc", "0", "-3", "1.5"])
def test_bad_page_size_is_400(board, page_size):
    response = board.member().client().get(feed_url(board.district.id, page_size=page_size))
    assert response.status_code == 400 and "page_size" in response.json()["error"]["fields"]


def test_large_page_size_is_capped(board):
    alice = board.member()
    for index in range(3):
        board.post(alice, title=f"投稿{index}")
    assert len(alice.client().get(feed_url(board.district.id, page_size=1000)).json()["results"]) == 3
