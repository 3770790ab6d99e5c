"""Feedback (ご意見投稿): residents send, staff answer in the API and the console, the resident reads
the answer (and gets it by e-mail when they left an address)."""
from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import AuditEvent
from accounts.roles import Role
from accounts.services import resident_create
from miniapps.feedback.models import Feedback
from superapp.celery import app as celery_app
from tests.base import STAFF_ROLES, TEST_PASSWORD, TenantApiClient, assert_num_queries

from .helpers import error_of

FEEDBACK_STAFF = [Role.COMMUNITY_MODERATOR, "admin"]


def _send(client, **fields):
    body = {"category": "request", "text": "ごみカレンダーに祝日の情報を入れてください。", **fields}
    return client.post("/api/v1/feedback/", body, format="json")


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_resident_sends_feedback_and_reads_the_answer(saga, eager_celery, django_capture_on_commit_callbacks):
    client = saga.client("resident")
    sent = _send(client, miniapp="garbage", reply_email="hanako@example.jp")
    assert sent.status_code == 201, sent.content
    feedback = sent.json()
    assert feedback["status"] == "new" and feedback["miniapp"] == "garbage" and feedback["reply"] == ""

    moderator = saga.client(Role.COMMUNITY_MODERATOR)
    inbox = moderator.get("/api/v1/staff/feedback/?status=new").json()
    assert inbox["count"] == 1 and inbox["results"][0]["resident"]["nickname"] == "佐賀市の住民"
    # The e-mail task is sent on commit, from the request's municipality (as in production).
    with saga.schema(), django_capture_on_commit_callbacks(execute=True):
        answered = moderator.post(f"/api/v1/staff/feedback/{feedback['id']}/reply/",
                                  {"text": "ご要望ありがとうございます。次の版で対応します。"}, format="json")
    assert answered.status_code == 200, answered.content
    assert answered.json()["status"] == "answered" and answered.json()["replied_by"]

    mine = client.get(f"/api/v1/feedback/{feedback['id']}/").json()
    assert mine["reply"] == "ご要望ありがとうございます。次の版で対応します。" and mine["replied_at"]
    assert client.get("/api/v1/feedback/").json()["results"][0]["status"] == "answered"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["hanako@example.jp"]
    assert "次の版で対応します" in mail.outbox[0].body
    assert moderator.get("/api/v1/staff/feedback/?status=new").json()["count"] == 0
    with saga.schema():
        assert AuditEvent.objects.filter(action="feedback.replied", target_id=str(feedback["id"])).exists()


def test_the_reply_email_task_is_idempotent(saga, eager_celery, django_capture_on_commit_callbacks):
    from miniapps.feedback.tasks import send_feedback_reply

    feedback_id = _send(saga.client("resident"), reply_email="a@example.jp").json()["id"]
    with saga.schema(), django_capture_on_commit_callbacks(execute=True):
        saga.client("admin").post(f"/api/v1/staff/feedback/{feedback_id}/reply/", {"text": "回答"}, format="json")
    with saga.schema():
        replied_at = Feedback.objects.get(pk=feedback_id).replied_at.isoformat()
        assert send_feedback_reply(feedback_id, replied_at) is False  # redelivered: not sent twice
        assert send_feedback_reply(feedback_id, "2000-01-01T00:00:00+00:00") is False  # a replaced answer
    assert len(mail.outbox) == 1


def test_no_email_without_a_reply_address(saga, eager_celery, django_capture_on_commit_callbacks):
    feedback_id = _send(saga.client("resident")).json()["id"]
    with saga.schema(), django_capture_on_commit_callbacks(execute=True):
        saga.client("admin").post(f"/api/v1/staff/feedback/{feedback_id}/reply/", {"text": "回答"}, format="json")
    assert mail.outbox == []


def test_validation(saga):
    client = saga.client("resident")
    for fields, field in [({"category": "rant"}, "category"), ({"text": "   "}, "text"), ({"text": 42}, "text"),
                          ({"miniapp": "no-such-app"}, "miniapp"), ({"reply_email": "nope"}, "reply_email"),
                          ({"text": "あ" * 4001}, "text")]:
        response = _send(client, **fields)
        assert response.status_code == 400, (fields, response.content)
        assert field in error_of(response)["fields"]
    feedback_id = _send(client).json()["id"]
    reply = saga.client("admin").post(f"/api/v1/staff/feedback/{feedback_id}/reply/", {"text": " "}, format="json")
    assert reply.status_code == 400 and "text" in error_of(reply)["fields"]
    assert saga.client("admin").get("/api/v1/staff/feedback/?status=lost").status_code == 400


def test_residents_only_see_their_own_feedback(saga, kanzaki):
    feedback_id = _send(saga.client("resident")).json()["id"]
    with saga.schema():
        other = TenantApiClient(saga.host, resident_create(nickname="別の住民").raw)
    assert other.get(f"/api/v1/feedback/{feedback_id}/").status_code == 404
    assert other.get("/api/v1/feedback/").json()["results"] == []
    # Kanzaki's resident asking on Kanzaki's host for the same id gets Kanzaki's data or nothing.
    with kanzaki.schema():
        assert not Feedback.objects.filter(pk=feedback_id).exists()
    assert kanzaki.client("resident").get(f"/api/v1/feedback/{feedback_id}/").status_code == 404
    assert kanzaki.client("admin").get(f"/api/v1/staff/feedback/{feedback_id}/").status_code == 404


def test_sending_is_rate_limited_per_resident(saga, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                                          "feedback": "2/hour"}}
    client = saga.client("resident")
    assert [_send(client).status_code for _ in range(3)] == [201, 201, 429]
    assert client.get("/api/v1/feedback/").status_code == 200  # reading is not limited


@pytest.mark.parametrize("who", [role for role in STAFF_ROLES if role != Role.COMMUNITY_MODERATOR] + ["resident"])
def test_only_admins_and_moderators_answer(saga, who):
    feedback_id = _send(saga.client("resident")).json()["id"]
    client = saga.client(who)
    assert client.get("/api/v1/staff/feedback/").status_code == 403
    assert client.post(f"/api/v1/staff/feedback/{feedback_id}/reply/", {"text": "x"}, format="json").status_code == 403


def test_query_counts(saga):
    client = saga.client("resident")
    for _ in range(3):
        _send(client)
    client.get("/api/v1/feedback/")
    with assert_num_queries(3):  # search_path, token, one page
        assert len(client.get("/api/v1/feedback/").json()["results"]) == 3
    with assert_num_queries(3):  # search_path, token, insert
        _send(client)
    _send(client, miniapp="no-such-app")
    # search_path, token, catalog generation: ids are checked against the cached catalog (refused)
    with assert_num_queries(3):
        assert _send(client, miniapp="no-such-app").status_code == 400
    moderator = saga.client(Role.COMMUNITY_MODERATOR)
    moderator.get("/api/v1/staff/feedback/")
    with assert_num_queries(5):  # search_path, token, roles, count, page with residents and districts
        assert moderator.get("/api/v1/staff/feedback/").json()["count"] == 4


# --- Console ------------------------------------------------------------------------------------
def _console(tenant, username):
    client = TenantApiClient(tenant.host)
    assert client.post("/console/login/", {"username": username, "password": TEST_PASSWORD}).status_code == 302
    return client


def test_console_inbox_and_answer(saga):
    feedback_id = _send(saga.client("resident"), category="bug", text="地図が表示されません").json()["id"]
    console = _console(saga, "community_moderator@saga.example")
    inbox = console.get("/console/feedback/")
    assert inbox.status_code == 200
    assert "地図が表示されません" in inbox.content.decode()
    assert 'href="/console/feedback/"' in inbox.content.decode()  # in the console's navigation
    assert "地図が表示されません" not in console.get("/console/feedback/?status=answered").content.decode()
    page = console.get(f"/console/feedback/{feedback_id}/")
    assert page.status_code == 200 and "不具合の報告" in page.content.decode()
    empty = console.post(f"/console/feedback/{feedback_id}/", {"text": ""})
    assert empty.status_code == 400
    answered = console.post(f"/console/feedback/{feedback_id}/", {"text": "修正しました。"})
    assert answered.status_code == 302 and answered["Location"].endswith("?answered=1")
    assert saga.client("resident").get(f"/api/v1/feedback/{feedback_id}/").json()["reply"] == "修正しました。"
    assert console.get("/console/feedback/999999/").status_code == 404


@pytest.mark.parametrize("username", ["teacher@saga.example", "analyst@saga.example"])
def test_console_pages_need_the_manifests_roles(saga, username):
    feedback_id = _send(saga.client("resident")).json()["id"]
    console = _console(saga, username)
    assert console.get("/console/feedback/").status_code == 403
    assert console.post(f"/console/feedback/{feedback_id}/", {"text": "x"}).status_code == 403


def test_console_pages_send_anonymous_visitors_to_the_login(saga):
    response = TenantApiClient(saga.host).get("/console/feedback/")
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


def test_console_session_of_another_municipality_does_not_carry_over(saga, kanzaki):
    feedback_id = _send(saga.client("resident")).json()["id"]
    console = _console(kanzaki, "admin@kanzaki.example")
    console.defaults["HTTP_HOST"] = saga.host
    assert console.get("/console/feedback/").status_code == 302
    assert console.post(f"/console/feedback/{feedback_id}/", {"text": "x"}).status_code in (302, 403)
    with saga.schema():
        assert Feedback.objects.get(pk=feedback_id).reply == ""
