"""The data-platform API: roles, the 4xx shapes, exact query counts, objects of other municipalities,
named lists, schedules, and one export end to end through a real Celery worker."""
from __future__ import annotations

import csv
import io
import os
from datetime import date, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from analytics import services
from analytics.models import ExportJob, ExportSchedule
from tests.base import STAFF_ROLES, assert_num_queries

from .conftest import MONTH_FROM, MONTH_TO

EXPORTS = "/api/v1/staff/analytics/exports/"
BODY = {"dataset": "usage_daily", "format": "csv", "date_from": "2026-05-01", "date_to": "2026-05-31"}


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "message_en", "fields"}, body
    return body["error"]


def _job(tenant, **kwargs) -> ExportJob:
    with tenant.schema():
        return services.export_job_create(
            dataset=kwargs.pop("dataset", "usage_daily"), fmt=kwargs.pop("fmt", "csv"),
            date_from=kwargs.pop("date_from", MONTH_FROM), date_to=kwargs.pop("date_to", MONTH_TO),
            acting_user=kwargs.pop("acting_user", tenant.staff[Role.ANALYST]), origin=ExportJob.Origin.API,
            enqueue=False, **kwargs)


def _finished(tenant, **kwargs) -> ExportJob:
    job = _job(tenant, **kwargs)
    with tenant.schema():
        return services.export_job_run(job_id=job.pk)


# --- Roles ------------------------------------------------------------------------------------
ROUTES = [
    ("get", "/api/v1/staff/analytics/datasets/", None, 200),
    ("get", EXPORTS, None, 200),
    ("post", EXPORTS, BODY, 202),
    ("get", "/api/v1/staff/analytics/schedules/", None, 200),
    ("post", "/api/v1/staff/analytics/schedules/", {"dataset": "usage_daily", "format": "hyper", "frequency": "weekly"}, 201),
    ("get", "/api/v1/staff/analytics/facts/", None, 200),
    ("post", "/api/v1/staff/analytics/facts/rebuild/", {"date_from": "2026-05-01", "date_to": "2026-05-02"}, 202),
]
REFUSED = ["resident"] + [role for role in STAFF_ROLES if role != Role.ANALYST]


@pytest.mark.parametrize("method, path, body, ok", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_analysts_and_admins_may_use_the_staff_api_and_no_one_else(saga, export_storage, method, path, body, ok):
    for who in (Role.ANALYST, "admin"):
        response = getattr(saga.client(who), method)(path, body, format="json")
        assert response.status_code == ok, (who, response.content[:300])
    for who in REFUSED:
        response = getattr(saga.client(who), method)(path, body, format="json")
        assert response.status_code == 403, who
        assert error_of(response)["code"] == "permission_denied"
    response = getattr(saga.client(None), method)(path, body, format="json")
    assert response.status_code == 401 and error_of(response)["code"] == "not_authenticated"


def test_job_detail_download_and_schedule_delete_are_analysts_only(saga, export_storage):
    job = _finished(saga)
    with saga.schema():
        schedule = services.export_schedule_create(dataset="usage_daily", fmt="csv", frequency="daily",
                                                   acting_user=saga.admin)
    paths = [("get", f"{EXPORTS}{job.pk}/"), ("get", f"{EXPORTS}{job.pk}/download/"),
             ("delete", f"/api/v1/staff/analytics/schedules/{schedule.pk}/")]
    for method, path in paths:
        for who in REFUSED:
            assert getattr(saga.client(who), method)(path).status_code == 403, (who, path)
        assert getattr(saga.client(None), method)(path).status_code == 401
    assert saga.client(Role.ANALYST).get(f"{EXPORTS}{job.pk}/").status_code == 200
    assert saga.client("admin").delete(paths[2][1]).status_code == 204


# --- Starting exports -------------------------------------------------------------------------
def test_starting_an_export_queues_a_job_and_audits_it(saga, export_storage, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = saga.client(Role.ANALYST).post(EXPORTS, BODY, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["dataset"] == "usage_daily" and body["format"] == "csv"
    assert body["download_url"] is None and body["error"] is None and body["progress"] is None
    assert body["download_name"] == "412015_usage_daily_2026-05-01_2026-05-31.csv"
    assert len(callbacks) == 1  # the task is sent once the job is committed
    with saga.schema():
        audit = AuditEvent.objects.get(action="analytics.export_requested")
    assert audit.actor_id == saga.staff[Role.ANALYST].pk and audit.data["dataset"] == "usage_daily"


def test_the_whole_flow_with_eager_tasks_ends_in_a_downloadable_file(saga, built_month, export_storage, eager_tasks,
                                                                   django_capture_on_commit_callbacks):
    client = saga.client(Role.ANALYST)
    with django_capture_on_commit_callbacks(execute=True):
        job_id = client.post(EXPORTS, {**BODY, "format": "parquet"}, format="json").json()["id"]
    body = client.get(f"{EXPORTS}{job_id}/").json()
    assert body["status"] == "succeeded" and body["progress"] == 1.0 and body["rows_done"] == body["rows_estimated"] > 0
    assert body["download_url"] == f"{EXPORTS}{job_id}/download/" and body["privacy_threshold"] == 10
    response = client.get(body["download_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apache.parquet"
    assert response["Content-Disposition"] == 'attachment; filename="412015_usage_daily_2026-05-01_2026-05-31.parquet"'
    data = b"".join(response.streaming_content)
    import pyarrow.parquet as pq

    assert pq.read_table(io.BytesIO(data)).num_rows == body["rows_done"]


@pytest.fixture
def built_month(saga, usage_month):
    with saga.schema():
        services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO, keys=["usage"])
    return usage_month


@pytest.mark.parametrize("body, field", [
    ({**BODY, "dataset": "no_such_dataset"}, "dataset"),
    ({**BODY, "dataset": 7}, "dataset"),
    ({**BODY, "format": "xlsx"}, "format"),
    ({**BODY, "date_from": "2026-05-32"}, "date_from"),
    ({**BODY, "date_from": "2026-06-01"}, "date_to"),
    ({**BODY, "date_from": "2024-01-01"}, "date_to"),
    ({key: value for key, value in BODY.items() if key != "date_to"}, "date_to"),
    ({**BODY, "parameters": {"disaster_id": 3}}, "parameters"),
    ({**BODY, "dataset": "shelter_checkins", "parameters": {"disaster_id": "x"}}, "parameters.disaster_id"),
    ({**BODY, "dataset": "shelter_checkins", "parameters": {"disaster_id": 0}}, "parameters.disaster_id"),
    ({**BODY, "purpose": 12}, "purpose"),
])
def test_bad_export_requests_are_400_naming_the_field(saga, body, field):
    response = saga.client(Role.ANALYST).post(EXPORTS, body, format="json")
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "validation_error" and field in error["fields"], error
    with saga.schema():
        assert not ExportJob.objects.exists()


def test_a_dataset_whose_source_is_not_installed_is_a_409(saga, monkeypatch):
    from analytics.datasets import get_dataset

    monkeypatch.setattr(type(get_dataset("usage_daily")), "available", lambda self: self.key != "usage_daily")
    response = saga.client(Role.ANALYST).post(EXPORTS, BODY, format="json")
    assert response.status_code == 409 and error_of(response)["code"] == "dataset_unavailable"
    listed = {d["id"]: d for d in saga.client(Role.ANALYST).get("/api/v1/staff/analytics/datasets/").json()}
    assert listed["usage_daily"]["available"] is False and listed["push_stats"]["available"] is True


def test_a_fourth_running_export_per_person_is_a_409(saga, settings):
    for _ in range(settings.ANALYTICS_MAX_ACTIVE_EXPORTS):
        _job(saga)
    response = saga.client(Role.ANALYST).post(EXPORTS, BODY, format="json")
    assert response.status_code == 409 and error_of(response)["code"] == "export_too_many"
    assert saga.client("admin").post(EXPORTS, BODY, format="json").status_code == 202  # per person


def test_download_before_the_file_exists_is_409_and_after_expiry_410(saga, export_storage):
    queued = _job(saga)
    response = saga.client(Role.ANALYST).get(f"{EXPORTS}{queued.pk}/download/")
    assert response.status_code == 409 and error_of(response)["code"] == "export_not_ready"
    done = _finished(saga)
    with saga.schema():
        ExportJob.objects.filter(pk=done.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = saga.client(Role.ANALYST).get(f"{EXPORTS}{done.pk}/download/")
    assert response.status_code == 410 and error_of(response)["code"] == "export_expired"
    assert saga.client(Role.ANALYST).get(f"{EXPORTS}{done.pk}/").json()["download_url"] is None


def test_a_failed_job_says_what_went_wrong(saga, export_storage, settings):
    settings.ANALYTICS_WORK_DIR = "/proc/no-such-place"
    job = _finished(saga)
    error = saga.client(Role.ANALYST).get(f"{EXPORTS}{job.pk}/").json()["error"]
    assert error["code"] == "export_storage_error"
    assert error["message"].startswith("ファイルの保存に失敗しました") and error["message_en"].startswith("Saving the file failed")


def test_unknown_and_foreign_jobs_are_the_same_404(saga, kanzaki, export_storage):
    saga_job = _job(saga)
    with kanzaki.schema():
        # kanzaki has no job with saga's id (its own ids start elsewhere)
        assert not ExportJob.objects.filter(pk=saga_job.pk).exists()
    for path in (f"{EXPORTS}{saga_job.pk}/", f"{EXPORTS}{saga_job.pk}/download/", f"{EXPORTS}999999999/",
                 f"{EXPORTS}99999999999999999999/"):
        response = kanzaki.client(Role.ANALYST).get(path)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found", path


# --- Named lists ------------------------------------------------------------------------------
def _disaster_with_evacuees(tenant) -> int:
    from tests.analytics.test_sources import build_every_source

    return build_every_source(tenant).disaster_id


def test_named_lists_are_for_admins_with_a_purpose_and_every_step_is_audited(saga, export_storage):
    disaster_id = _disaster_with_evacuees(saga)
    body = {"dataset": "shelter_evacuees", "format": "csv", "parameters": {"disaster_id": disaster_id}}
    response = saga.client(Role.ANALYST).post(EXPORTS, {**body, "purpose": "県への報告"}, format="json")
    assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
    response = saga.client("admin").post(EXPORTS, body, format="json")
    assert response.status_code == 400 and "purpose" in error_of(response)["fields"]
    response = saga.client("admin").post(EXPORTS, {**body, "purpose": "県災害対策本部への避難者名簿の提出"}, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    with saga.schema():
        done = services.export_job_run(job_id=job_id)
    assert done.expires_at - done.finished_at == timedelta(hours=24)
    # Analysts neither see nor fetch it.
    assert saga.client(Role.ANALYST).get(f"{EXPORTS}{job_id}/").status_code == 404
    assert job_id not in [job["id"] for job in saga.client(Role.ANALYST).get(EXPORTS).json()["results"]]
    response = saga.client("admin").get(f"{EXPORTS}{job_id}/download/")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "避難 太郎0-0" in text and "佐賀市本庄町" in text and done.rows_done == 15
    with saga.schema():
        actions = list(AuditEvent.objects.filter(target_id=str(job_id)).order_by("id").values_list("action", flat=True))
        requested = AuditEvent.objects.get(action="analytics.named_list_requested")
    assert actions == ["analytics.named_list_requested", "analytics.named_list_exported",
                       "analytics.named_list_downloaded"]
    assert requested.data["purpose"] == "県災害対策本部への避難者名簿の提出" and requested.actor_id == saga.admin.pk


def test_no_other_dataset_carries_names_addresses_or_tokens():
    from analytics.datasets import all_datasets

    personal = {"name", "kana", "address", "birth_date", "token", "email", "phone", "nickname", "user_id", "username"}
    for dataset in all_datasets():
        if not dataset.named_list:
            assert not personal & set(dataset.column_names), dataset.key


def test_named_lists_cannot_be_scheduled(saga):
    response = saga.client("admin").post("/api/v1/staff/analytics/schedules/",
                                         {"dataset": "shelter_evacuees", "format": "csv", "frequency": "daily"},
                                         format="json")
    assert response.status_code == 400 and "dataset" in error_of(response)["fields"]


# --- Schedules and facts ------------------------------------------------------------------------
def test_a_weekly_schedule_exports_last_week_once_on_its_day(saga, export_storage):
    with saga.schema():
        schedule = services.export_schedule_create(dataset="usage_daily", fmt="hyper", frequency="weekly", weekday=0,
                                                   acting_user=saga.staff[Role.ANALYST])
        assert services.export_schedules_run(today=date(2026, 6, 2)) == []  # a Tuesday
        monday = date(2026, 6, 1)
        [job] = services.export_schedules_run(today=monday)
        assert (job.date_from, job.date_to, job.origin) == (date(2026, 5, 25), date(2026, 5, 31), "schedule")
        assert services.export_schedules_run(today=monday) == []  # beat fired twice, or a retry
        ExportSchedule.objects.filter(pk=schedule.pk).update(last_run_on=None)
        assert services.export_schedules_run(today=monday) == []  # the period's job exists already
        assert ExportJob.objects.filter(schedule=schedule).count() == 1


def test_monthly_and_daily_periods():
    assert services.schedule_period(frequency="monthly", today=date(2026, 6, 1)) == (date(2026, 5, 1), date(2026, 5, 31))
    assert services.schedule_period(frequency="monthly", today=date(2026, 1, 1)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert services.schedule_period(frequency="daily", today=date(2026, 3, 1)) == (date(2026, 2, 28), date(2026, 2, 28))
    assert services.schedule_period(frequency="weekly", today=date(2026, 6, 7)) == (date(2026, 5, 25), date(2026, 5, 31))


@pytest.mark.parametrize("body, field", [
    ({"dataset": "usage_daily", "format": "csv", "frequency": "hourly"}, "frequency"),
    ({"dataset": "usage_daily", "format": "csv", "frequency": "weekly", "weekday": 7}, "weekday"),
    ({"dataset": "nope", "format": "csv", "frequency": "daily"}, "dataset"),
])
def test_bad_schedules_are_400(saga, body, field):
    response = saga.client(Role.ANALYST).post("/api/v1/staff/analytics/schedules/", body, format="json")
    assert response.status_code == 400 and field in error_of(response)["fields"]


def test_rebuild_requests_are_checked_and_queued(saga, django_capture_on_commit_callbacks):
    client = saga.client(Role.ANALYST)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/api/v1/staff/analytics/facts/rebuild/",
                                {"date_from": "2026-05-01", "date_to": "2026-05-31", "facts": ["usage", "push"]},
                                format="json")
    assert response.status_code == 202 and response.json()["facts"] == ["usage", "push"]
    assert len(callbacks) == 1
    response = client.post("/api/v1/staff/analytics/facts/rebuild/",
                           {"date_from": "2026-05-01", "date_to": "2026-05-31", "facts": ["nope"]}, format="json")
    assert response.status_code == 400 and "facts" in error_of(response)["fields"]
    response = client.post("/api/v1/staff/analytics/facts/rebuild/", {"date_from": "2026-05-31", "date_to": "2026-05-01"},
                           format="json")
    assert response.status_code == 400 and "date_to" in error_of(response)["fields"]


def test_fact_status_lists_every_fact(saga, built_month):
    body = saga.client(Role.ANALYST).get("/api/v1/staff/analytics/facts/").json()
    by_id = {fact["id"]: fact for fact in body}
    assert set(by_id) == {"usage", "push", "checkins", "attendance", "feedback"}
    assert (by_id["usage"]["first_day"], by_id["usage"]["last_day"], by_id["usage"]["days"]) == \
        ("2026-05-01", "2026-05-31", 31)
    assert by_id["push"]["days"] == 0 and by_id["push"]["available"] is True


# --- Query counts -------------------------------------------------------------------------------
# A staff request: SET search_path, the token (with user), its last-use update, the role check.
BASE = 3


def test_query_counts(saga, export_storage):
    analyst = saga.client(Role.ANALYST)
    analyst.get("/api/v1/staff/analytics/datasets/")  # token last-used stamp written once
    finished = _finished(saga)
    jobs = [_job(saga) for _ in range(2)]
    with saga.schema():
        ExportJob.objects.filter(pk=jobs[0].pk).update(status=ExportJob.Status.RUNNING, rows_estimated=100)
        services._heartbeat(jobs[0].pk, 40)
    with assert_num_queries(BASE):
        assert analyst.get("/api/v1/staff/analytics/datasets/").status_code == 200
    with assert_num_queries(BASE + 2):  # count, page (with requester)
        body = analyst.get(EXPORTS).json()
    running = next(job for job in body["results"] if job["id"] == jobs[0].pk)
    assert (running["rows_done"], running["progress"]) == (40, 0.4)
    with assert_num_queries(BASE + 1):
        assert analyst.get(f"{EXPORTS}{finished.pk}/").status_code == 200
    with assert_num_queries(BASE + 2):  # the job, the audit row
        response = analyst.get(f"{EXPORTS}{finished.pk}/download/")
        assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"\xef\xbb\xbf")
    with assert_num_queries(BASE + 1):
        assert analyst.get("/api/v1/staff/analytics/facts/").status_code == 200
    with assert_num_queries(BASE + 1):
        assert analyst.get("/api/v1/staff/analytics/schedules/").status_code == 200


def test_starting_an_export_costs_a_fixed_number_of_queries(saga):
    analyst = saga.client(Role.ANALYST)
    analyst.get("/api/v1/staff/analytics/datasets/")
    # savepoint, active jobs of this person, the job, its audit row, release
    with assert_num_queries(BASE + 5):
        assert analyst.post(EXPORTS, BODY, format="json").status_code == 202


# --- End to end through a real worker -----------------------------------------------------------
QUEUE = f"test-analytics-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture
def worker(tenants_pair, django_db_blocker, settings, tmp_path):
    """A real Celery worker thread on this test process's own queue; no test transaction, so the
    test cleans up what it committed."""
    from superapp.celery import app as celery_app

    from .conftest import _forget_storage_location

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ANALYTICS_WORK_DIR = str(tmp_path)
    _forget_storage_location()
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = QUEUE
    with django_db_blocker.unblock():
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(QUEUE)
        try:
            with start_worker(celery_app, pool="solo", perform_ping_check=False, queues=[QUEUE], shutdown_timeout=10):
                yield tenants_pair
        finally:
            saga, _ = tenants_pair
            with saga.schema():
                ExportJob.objects.all().delete()
                AuditEvent.objects.filter(action__startswith="analytics.").delete()
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    celery_app.conf.task_default_queue = previous
    _forget_storage_location()


def test_an_export_started_over_the_api_is_made_by_a_worker(worker):
    import time

    saga, _ = worker
    client = saga.client(Role.ANALYST)
    response = client.post(EXPORTS, {**BODY, "format": "hyper"}, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = client.get(f"{EXPORTS}{job_id}/").json()
        if body["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert body["status"] == "succeeded", body
    response = client.get(body["download_url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/vnd.tableau.hyper"
    assert b"".join(response.streaming_content)[:4] != b""


# The community tests' board: residents verified with a citizen ID through the real enrolment API.
from tests.community.conftest import board, community_jpki, community_jpki_ca  # noqa: E402,F401  (fixtures)


def test_an_events_participants_are_a_named_list_for_admins(saga, board, export_storage):
    from miniapps.community.models import Event
    from miniapps.community.services import rsvp_answer

    organiser = board.member("主催者")
    event_id = board.event(organiser, capacity=1)["id"]  # an event's id is its post's id
    first, second = board.member("さくら"), board.member("たろう")
    with saga.schema():
        event = Event.objects.get(pk=event_id)
        rsvp_answer(event=event, user=first.user, answer="join")
        rsvp_answer(event=event, user=second.user, answer="join")  # the one place is taken: waiting list
    body = {"dataset": "event_participants", "format": "csv", "parameters": {"event_id": event_id},
            "purpose": "当日の受付名簿"}
    assert saga.client(Role.ANALYST).post(EXPORTS, body, format="json").status_code == 403
    job_id = saga.client("admin").post(EXPORTS, body, format="json").json()["id"]
    with saga.schema():
        services.export_job_run(job_id=job_id)
    response = saga.client("admin").get(f"{EXPORTS}{job_id}/download/")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [(row["nickname"], row["status"]) for row in rows] == [("さくら", "going"), ("たろう", "waiting")]
    assert rows[0]["district"] == board.district.name and rows[0]["event_title"] == "清掃活動"


def test_downloads_ignore_the_accept_header_and_errors_stay_json(saga, export_storage):
    done = _finished(saga)
    client = saga.client(Role.ANALYST)
    response = client.get(f"{EXPORTS}{done.pk}/download/", HTTP_ACCEPT="text/html,application/xhtml+xml")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content).startswith(b"\xef\xbb\xbf")
    response = client.get(f"{EXPORTS}999999/download/", HTTP_ACCEPT="application/vnd.tableau.hyper")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "not_found"
