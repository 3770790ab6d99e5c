"""地域貢献ポイント: thank-yous credit the author in an append-only ledger whose balance always equals
the sum of its entries; once per post per person, not to oneself; caps against farming; reversal
when a moderator hides the content; the monthly district ranking."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from miniapps.community import services
from miniapps.community.models import PointsAccount, PointsEntry, Thanks
from miniapps.community.selectors import points_ledger_sum
from tests.base import assert_num_queries


def thank(member, post_id: int):
    return member.client().post(f"/api/v1/community/posts/{post_id}/thanks/")


def points(member) -> dict:
    response = member.client().get("/api/v1/community/me/points/")
    assert response.status_code == 200
    return response.json()


def _assert_ledger_consistent(board, user_id: int) -> None:
    with board.tenant.schema():
        entries = list(PointsEntry.objects.filter(user_id=user_id).order_by("id"))
        running = 0
        for entry in entries:
            running += entry.amount
            assert entry.balance_after == running, entry.id
        balance = PointsAccount.objects.filter(user_id=user_id).values_list("balance", flat=True).first() or 0
        assert balance == running == points_ledger_sum(user_id=user_id)


def test_done_when_thanks_move_points(board):
    author, a, b = board.member("作者"), board.member(), board.member()
    post = board.post(author)
    first = thank(a, post["id"])
    assert first.status_code == 201 and first.json() == {"points_credited": 1, "thanks_count": 1}
    assert thank(b, post["id"]).json()["thanks_count"] == 2
    mine = points(author)
    assert mine["balance"] == 2 and mine["this_month"] == 2
    assert [(e["amount"], e["balance_after"], e["kind"], e["post_id"]) for e in mine["results"]] == [
        (1, 2, "thanks", post["id"]), (1, 1, "thanks", post["id"])]
    assert a.client().get(f"/api/v1/community/posts/{post['id']}/").json()["thanked_by_me"] is True
    assert points(a)["balance"] == 0
    _assert_ledger_consistent(board, author.id)


def test_second_thanks_is_409_and_self_thanks_is_403(board):
    author, a = board.member(), board.member()
    post = board.post(author)
    assert thank(a, post["id"]).status_code == 201
    again = thank(a, post["id"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_thanked"
    own = thank(author, post["id"])
    assert own.status_code == 403 and own.json()["error"]["code"] == "cannot_thank_self"
    assert points(author)["balance"] == 1


def test_comment_thanks_credit_the_commenter(board):
    author, commenter, reader = board.member(), board.member(), board.member()
    post = board.post(author)
    comment = commenter.client().post(f"/api/v1/community/posts/{post['id']}/comments/", {"body": "手伝います"},
                                      format="json").json()
    url = f"/api/v1/community/comments/{comment['id']}/thanks/"
    assert author.client().post(url).status_code == 201
    assert author.client().post(url).status_code == 409
    assert reader.client().post(url).status_code == 201
    assert commenter.client().post(url).status_code == 403
    assert points(commenter)["balance"] == 2 and points(author)["balance"] == 0
    # Thanking the comment did not use up thanking the post.
    assert thank(reader, post["id"]).status_code == 201


def test_outsiders_cannot_thank(board):
    author, outsider = board.member(), board.member(district=board.other_district)
    post = board.post(author)
    assert thank(outsider, post["id"]).status_code == 404


def test_one_giver_credits_one_author_at_most_the_monthly_cap(board, monkeypatch):
    monkeypatch.setattr(services, "MAX_POINTS_FROM_ONE_GIVER_PER_MONTH", 2)
    author, fan = board.member(), board.member()
    credited = [thank(fan, board.post(author, title=f"投稿{i}")["id"]).json()["points_credited"] for i in range(4)]
    assert credited == [1, 1, 0, 0]  # the thank-yous still count on the posts, the points stop
    assert points(author)["balance"] == 2


def test_daily_thanks_limit_is_429(board, monkeypatch):
    monkeypatch.setattr(services, "MAX_THANKS_PER_DAY", 2)
    author, fan = board.member(), board.member()
    posts = [board.post(author, title=f"投稿{i}")["id"] for i in range(3)]
    assert [thank(fan, pid).status_code for pid in posts] == [201, 201, 429]
    assert thank(fan, posts[2]).json()["error"]["code"] == "thanks_limit_reached"


def test_hiding_reverses_points_and_restoring_credits_them_again(board, saga):
    author, a, b = board.member(), board.member(), board.member()
    post = board.post(author)
    thank(a, post["id"])
    thank(b, post["id"])
    moderator = saga.client("community_moderator")
    moderator.post(f"/api/v1/staff/community/posts/{post['id']}/hide/", {"reason": "spam"}, format="json")
    moderator.post(f"/api/v1/staff/community/posts/{post['id']}/hide/", {"reason": "again"}, format="json")
    assert points(author)["balance"] == 0
    moderator.post(f"/api/v1/staff/community/posts/{post['id']}/restore/")
    history = points(author)
    assert history["balance"] == 2
    assert [e["kind"] for e in history["results"]] == ["moderation_restore"] * 2 + ["moderation_reversal"] * 2 + [
        "thanks"] * 2
    _assert_ledger_consistent(board, author.id)


def test_the_ledger_refuses_updates(board):
    author, a = board.member(), board.member()
    thank(a, board.post(author)["id"])
    with board.tenant.schema():
        entry = PointsEntry.objects.get(user_id=author.id)
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            PointsEntry.objects.filter(pk=entry.pk).update(amount=1000)
        with pytest.raises(IntegrityError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("UPDATE community_pointsentry SET balance_after = 99 WHERE id = %s", [entry.pk])
        # Clearing a link (a deleted thank-you) is allowed; the entry's facts stay.
        Thanks.objects.filter(pk=entry.thanks_id).delete()
        entry.refresh_from_db()
        assert entry.thanks_id is None and entry.amount == 1


def test_the_trigger_exists_in_every_municipality_schema(saga, kanzaki):
    for tenant in (saga, kanzaki):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = %s AND t.tgname = 'community_points_entry_append_only'",
                           [tenant.schema_name])
            assert cursor.fetchone()[0] == 1, tenant.schema_name


def test_monthly_district_ranking(board):
    top, second, giver1, giver2, outsider = (board.member("トップ"), board.member("二位"), board.member(),
                                             board.member(), board.member(district=board.other_district))
    for giver in (giver1, giver2):
        thank(giver, board.post(top)["id"])
    thank(giver1, board.post(second)["id"])
    last_month_day = timezone.now().replace(day=1) - timedelta(days=3)
    with board.tenant.schema():  # an entry from last month counts there, not this month
        PointsEntry.objects.create(user_id=giver2.id, amount=7, balance_after=7, kind=PointsEntry.Kind.THANKS,
                                   district_id=board.district.id, created_at=last_month_day)
    url = f"/api/v1/community/districts/{board.district.id}/ranking/"
    ranking = top.client().get(url).json()
    assert ranking["month"] == f"{timezone.localdate():%Y-%m}"
    assert [(r["rank"], r["nickname"], r["points"], r["is_me"]) for r in ranking["ranking"]] == [
        (1, "トップ", 2, True), (2, "二位", 1, False)]
    last_month = timezone.localtime(last_month_day).strftime("%Y-%m")
    assert [(r["user_id"], r["points"]) for r in top.client().get(f"{url}?month={last_month}").json()["ranking"]] == [
        (giver2.id, 7)]
    assert outsider.client().get(url).status_code == 403
    bad = top.client().get(f"{url}?month=2026-13")
    assert bad.status_code == 400 and "month" in bad.json()["error"]["fields"]


@pytest.mark.parametrize("count", [1, 6])
def test_points_history_query_count_is_constant(board, count):
    author = board.member()
    for _ in range(count):
        thank(board.member(), board.post(author)["id"])
    client = author.client()
    client.get("/api/v1/me/")
    # SET search_path, token, ledger page (+thanks), balance, this month's sum.
    with assert_num_queries(5):
        body = client.get("/api/v1/community/me/points/").json()
    assert len(body["results"]) == count and body["balance"] == count
