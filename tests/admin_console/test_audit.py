"""The audit log viewer: filters by staff member, action prefix and whole days (Asia/Tokyo)."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from accounts.models import AuditEvent
from accounts.roles import Role
from accounts.selectors import audit_action_names
from accounts.services import audit_record
from tests.base import assert_num_queries

from .conftest import console_client

TOKYO = ZoneInfo("Asia/Tokyo")


def _event(tenant, *, actor, action, at: datetime, **data) -> AuditEvent:
    with tenant.schema():
        event = audit_record(actor=actor, action=action, data=data)
        AuditEvent.objects.filter(pk=event.pk).update(created_at=at)
    return event


def _actions_shown(html: str) -> list[str]:
    return re.findall(r"<td><code>([^<]+)</code></td>", html)


def test_filters_by_staff_action_and_tokyo_days(saga):
    teacher, analyst = saga.staff[Role.TEACHER], saga.staff[Role.ANALYST]
    _event(saga, actor=teacher, action="attendance.viewed", at=datetime(2026, 5, 1, 0, 30, tzinfo=TOKYO))
    _event(saga, actor=teacher, action="attendance.exported", at=datetime(2026, 5, 1, 23, 59, tzinfo=TOKYO))
    _event(saga, actor=teacher, action="attendance.viewed", at=datetime(2026, 4, 30, 23, 59, tzinfo=TOKYO))
    _event(saga, actor=analyst, action="export.csv", at=datetime(2026, 5, 1, 12, 0, tzinfo=TOKYO))
    client = console_client(saga, "admin")

    by_staff_and_day = client.get(f"/console/audit/?actor={teacher.pk}&date_from=2026-05-01&date_to=2026-05-01")
    assert by_staff_and_day.status_code == 200
    assert sorted(_actions_shown(by_staff_and_day.content.decode())) == ["attendance.exported", "attendance.viewed"]

    by_prefix = client.get("/console/audit/?action=attendance.&date_to=2026-04-30").content.decode()
    assert _actions_shown(by_prefix) == ["attendance.viewed"]
    everything = client.get("/console/audit/?action=export").content.decode()
    assert _actions_shown(everything) == ["export.csv"]
    assert "1 件" in everything


def test_unknown_staff_in_the_filter_is_a_field_error(saga):
    response = console_client(saga, "admin").get(f"/console/audit/?actor={saga.resident.pk}")
    assert response.status_code == 400
    assert "正しく選択してください。" in response.content.decode()


def test_pagination_keeps_the_filters_and_the_query_count(saga):
    for i in range(120):
        _event(saga, actor=saga.admin, action="bulk.row", at=datetime(2026, 6, 1, 9, 0, tzinfo=TOKYO), i=i)
    client = console_client(saga, "admin")
    first = client.get("/console/audit/?action=bulk.").content.decode()
    assert "120 件" in first and "1 / 3 ページ" in first
    assert 'href="?action=bulk.&amp;page=2"' in first
    client.get("/console/audit/?action=bulk.&page=3")
    with assert_num_queries(8):
        last = client.get("/console/audit/?action=bulk.&page=3").content.decode()
    assert len(_actions_shown(last)) == 20


def test_action_names_come_from_the_log_in_one_query(saga):
    _event(saga, actor=None, action="zeta.last", at=datetime(2026, 1, 1, tzinfo=TOKYO))
    with saga.schema():
        audit_action_names()  # the schema switch happens on the first query
        with assert_num_queries(1):
            names = audit_action_names()
    assert names == sorted(set(names)) and "zeta.last" in names and "staff.roles_changed" in names
    html = console_client(saga, "admin").get("/console/audit/").content.decode()
    assert '<option value="zeta.last">' in html


def test_system_rows_show_as_system(saga):
    _event(saga, actor=None, action="municipality.suspended", at=datetime(2026, 2, 1, tzinfo=TOKYO))
    html = console_client(saga, "admin").get("/console/audit/?action=municipality.suspended").content.decode()
    assert "システム" in html
