"""Console pages of the data platform: who may open them, starting an export and downloading it,
progress and failures on the page, another municipality's session, exact query counts; and the
dashboard widgets, which read the fact tables only and hide small counts."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.roles import ALL_ROLES, Role
from analytics import services
from analytics.models import ActiveResidentsFact, ExportJob, ExportSchedule, UsageFact
from tests.admin_console.conftest import console_client
from tests.base import assert_num_queries

from .conftest import MONTH_FROM, MONTH_TO

PAGES = ["/console/analytics/", "/console/analytics/jobs/", "/console/analytics/schedules/",
         "/console/analytics/facts/", "/console/analytics/datasets/"]
OTHERS = [role for role in ALL_ROLES if role not in (Role.ANALYST, Role.MUNICIPALITY_ADMIN)]


def _finished(tenant, **kwargs) -> ExportJob:
    with tenant.schema():
        job = services.export_job_create(dataset=kwargs.pop("dataset", "usage_daily"), fmt=kwargs.pop("fmt", "csv"),
                                         date_from=MONTH_FROM, date_to=MONTH_TO, acting_user=tenant.staff[Role.ANALYST],
                                         origin=ExportJob.Origin.CONSOLE, enqueue=False, **kwargs)
        return services.export_job_run(job_id=job.pk)


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_for_analysts_and_admins(saga, path):
    for who in (Role.ANALYST, "admin"):
        assert console_client(saga, who).get(path).status_code == 200, who
    for who in OTHERS:
        assert console_client(saga, who).get(path).status_code == 403, who
    response = console_client(saga).get(path)
    assert response.status_code == 302 and response["Location"].startswith("/console/login/?next=")


def test_job_pages_and_posts_refuse_other_roles(saga, export_storage):
    job = _finished(saga)
    with saga.schema():
        schedule = services.export_schedule_create(dataset="usage_daily", fmt="csv", frequency="daily",
                                                   acting_user=saga.admin)
    for who in OTHERS:
        client = console_client(saga, who)
        assert client.get(f"/console/analytics/exports/{job.pk}/").status_code == 403
        assert client.get(f"/console/analytics/exports/{job.pk}/download/").status_code == 403
        assert client.post("/console/analytics/", {"dataset": "usage_daily", "format": "csv"}).status_code == 403
        assert client.post(f"/console/analytics/schedules/{schedule.pk}/stop/").status_code == 403
    with saga.schema():
        assert ExportJob.objects.count() == 1 and ExportSchedule.objects.get().is_active


def test_the_navigation_links_the_exports_section_for_analysts(saga):
    html = console_client(saga, Role.ANALYST).get("/console/").content.decode()
    assert 'href="/console/analytics/"' in html
    assert 'href="/console/analytics/"' not in console_client(saga, Role.TEACHER).get("/console/").content.decode()


def test_an_analyst_starts_an_export_sees_it_and_downloads_it(saga, export_storage, django_capture_on_commit_callbacks):
    client = console_client(saga, Role.ANALYST)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/console/analytics/", {"dataset": "active_residents", "format": "csv",
                                                       "date_from": "2026-05-01", "date_to": "2026-05-31"})
    assert response.status_code == 302 and response["Location"] == "/console/analytics/"
    assert len(callbacks) == 1
    with saga.schema():
        job = ExportJob.objects.get()
        assert (job.origin, job.requested_by_id) == ("console", saga.staff[Role.ANALYST].pk)
    page = client.get("/console/analytics/").content.decode()
    assert "出力を開始しました" in page and 'hx-trigger="every 2s"' in page  # polls while queued
    with saga.schema():
        services.export_job_run(job_id=job.pk)
    page = client.get("/console/analytics/jobs/").content.decode()
    assert "hx-trigger" not in page  # nothing left to wait for
    assert f'href="/console/analytics/exports/{job.pk}/download/"' in page
    response = client.get(f"/console/analytics/exports/{job.pk}/download/")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content).startswith(b"\xef\xbb\xbf")


def test_form_errors_are_shown_in_japanese_and_nothing_is_started(saga):
    client = console_client(saga, Role.ANALYST)
    response = client.post("/console/analytics/", {"dataset": "usage_daily", "format": "csv",
                                                   "date_from": "2026-05-31", "date_to": "2026-05-01"})
    assert response.status_code == 400
    assert "終了日は開始日以降にしてください" in response.content.decode()
    with saga.schema():
        assert not ExportJob.objects.exists()


def test_only_admins_are_offered_named_lists(saga):
    assert 'value="shelter_evacuees"' in console_client(saga, "admin").get("/console/analytics/").content.decode()
    assert 'value="shelter_evacuees"' not in console_client(saga, Role.ANALYST).get("/console/analytics/").content.decode()
    response = console_client(saga, Role.ANALYST).post("/console/analytics/", {
        "dataset": "shelter_evacuees", "format": "csv", "disaster_id": "1", "purpose": "確認のため"})
    assert response.status_code == 400  # not a choice for them


def test_a_failed_export_says_why_and_an_expired_one_cannot_be_downloaded(saga, export_storage, settings):
    settings.ANALYTICS_WORK_DIR = "/proc/no-such-place"
    failed = _finished(saga)
    page = console_client(saga, Role.ANALYST).get(f"/console/analytics/exports/{failed.pk}/").content.decode()
    assert "ファイルの保存に失敗しました" in page and "Saving the file failed" in page
    settings.ANALYTICS_WORK_DIR = str(export_storage / "work")
    done = _finished(saga)
    with saga.schema():
        ExportJob.objects.filter(pk=done.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = console_client(saga, Role.ANALYST).get(f"/console/analytics/exports/{done.pk}/download/")
    assert response.status_code == 410 and "ダウンロードの期限が切れました" in response.content.decode()


def test_schedules_are_added_and_stopped_from_the_console(saga):
    client = console_client(saga, Role.ANALYST)
    response = client.post("/console/analytics/schedules/", {"dataset": "usage_daily", "format": "hyper",
                                                             "frequency": "weekly", "weekday": "0"})
    assert response.status_code == 302
    with saga.schema():
        schedule = ExportSchedule.objects.get()
    assert (schedule.format, schedule.frequency, schedule.weekday) == ("hyper", "weekly", 0)
    assert client.post(f"/console/analytics/schedules/{schedule.pk}/stop/").status_code == 302
    with saga.schema():
        schedule.refresh_from_db()
    assert not schedule.is_active


def test_a_rebuild_is_started_from_the_console(saga, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = console_client(saga, Role.ANALYST).post("/console/analytics/facts/", {
            "date_from": "2026-05-01", "date_to": "2026-05-31", "facts": ["usage"]})
    assert response.status_code == 302 and len(callbacks) == 1


def test_another_municipalitys_session_is_not_signed_in_here(saga, kanzaki, export_storage):
    job = _finished(saga)
    client = console_client(saga, Role.ANALYST, host=kanzaki.host)  # saga's session cookie on kanzaki's host
    for path in PAGES + [f"/console/analytics/exports/{job.pk}/", f"/console/analytics/exports/{job.pk}/download/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/"), path
    response = console_client(kanzaki, Role.ANALYST).get(f"/console/analytics/exports/{job.pk}/")
    assert response.status_code == 404


# signed-in console request: SET search_path, the session, the user, the user's roles
BASE = 4
PAGE_QUERIES = {
    "/console/analytics/": BASE + 1,  # the jobs (with requesters)
    "/console/analytics/jobs/": BASE + 1,
    "/console/analytics/schedules/": BASE + 1,
    "/console/analytics/facts/": BASE + 3,  # fact status, the two charts
    "/console/analytics/datasets/": BASE,
}


@pytest.mark.parametrize("path", sorted(PAGE_QUERIES))
def test_page_query_counts_are_exact_and_constant(saga, export_storage, path):
    client = console_client(saga, Role.ANALYST)
    assert client.get(path).status_code == 200
    with assert_num_queries(PAGE_QUERIES[path]):
        assert client.get(path).status_code == 200
    for _ in range(3):
        _finished(saga)
    with saga.schema():
        services.export_schedule_create(dataset="usage_daily", fmt="csv", frequency="daily", acting_user=saga.admin)
        services.facts_rebuild(date_from=MONTH_FROM, date_to=MONTH_TO)
    with assert_num_queries(PAGE_QUERIES[path]):
        assert client.get(path).status_code == 200


def test_job_detail_query_count(saga, export_storage):
    job = _finished(saga)
    client = console_client(saga, Role.ANALYST)
    client.get("/console/analytics/")
    with assert_num_queries(BASE + 1):
        assert client.get(f"/console/analytics/exports/{job.pk}/").status_code == 200


# --- Dashboard ----------------------------------------------------------------------------------
def test_dashboard_widgets_read_the_facts_and_hide_small_counts(saga):
    yesterday = timezone.localdate() - timedelta(days=1)
    with saga.schema():
        ActiveResidentsFact.objects.bulk_create([
            ActiveResidentsFact(day=yesterday, district_id=None, age_band=30, active_residents=40),
            ActiveResidentsFact(day=yesterday, district_id=None, age_band=70, active_residents=4),
            ActiveResidentsFact(day=yesterday, district_id=None, age_band=40, active_residents=25),
        ])
        UsageFact.objects.bulk_create([
            UsageFact(day=yesterday, miniapp_id="garbage", opens=120, taps=0, users=40),
            UsageFact(day=yesterday, miniapp_id="announcements", opens=60, taps=0, users=20),
            UsageFact(day=yesterday, miniapp_id="feedback", opens=3, taps=0, users=3),
        ])
    html = console_client(saga, Role.ANALYST).get("/console/dashboard/").content.decode()
    assert re.search(r'id="stat-analytics_active_yesterday">\s*<dt>[^<]*</dt>\s*<dd>69<', html)
    ages = _table_rows(html, "analytics_active_by_age")
    assert ages["30〜39歳 / 30-39"] == "40" and ages["70〜79歳 / 70-79"] == "秘匿"
    opens = _table_rows(html, "analytics_miniapp_opens_30d")
    # The small cell is hidden, and the next smallest too, or the total would give it away.
    assert (opens["ごみカレンダー"], opens["ご意見投稿"], opens["お知らせ"]) == ("120", "秘匿", "秘匿")
    assert "stat-analytics_active_yesterday" not in console_client(saga, Role.TEACHER).get("/console/dashboard/").content.decode()
    # The same charts, suppressed the same way, on the data platform's own 集計 page.
    page = console_client(saga, Role.ANALYST).get("/console/analytics/facts/").content.decode()
    assert _table_rows(page, "analytics_miniapp_opens_30d") == opens
    assert _table_rows(page, "analytics_active_by_age") == ages


def _table_rows(html: str, key: str) -> dict[str, str]:
    section = html[html.index(f'id="chart-{key}"'):]
    section = section[: section.index("</section>")]
    return {label: value for label, value in re.findall(
        r'<th scope="row">([^<]*)</th><td class="num">(?:<abbr[^>]*>)?([^<]*)', section)}


def test_dashboard_widgets_cost_one_query_each_whatever_the_data(saga):
    from admin_console.dashboard import DashboardContext, registered_widgets

    ctx = DashboardContext(user=saga.staff[Role.ANALYST], municipality=saga.municipality, privacy_threshold=10,
                           today=date(2026, 6, 1))
    widgets = [w for w in registered_widgets() if w.key.startswith("analytics_")]
    assert len(widgets) == 4
    with saga.schema():
        for day in range(30):
            UsageFact.objects.create(day=date(2026, 5, 1) + timedelta(days=day), miniapp_id=f"app{day % 12}",
                                     opens=day, users=day)
        for widget in widgets:
            with assert_num_queries(1):
                widget.build(ctx)
