"""Staff management by municipality admins: invitations with a one-time link, roles, deactivation."""
from __future__ import annotations

import re

from django.core import mail

from accounts.models import ApiToken, AuditEvent, User
from accounts.roles import Role
from accounts.services import staff_create, staff_set_roles, staff_token_issue
from tests.base import TEST_PASSWORD, TenantApiClient, assert_num_queries

from .conftest import console_client

NEW_PASSWORD = "kawa-no-hotori-2026"


def _invite(saga, django_capture_on_commit_callbacks, email="new.staff@city.saga.example", roles=("teacher",)):
    with django_capture_on_commit_callbacks(execute=True):
        response = console_client(saga, "admin").post("/console/staff/invite/", {
            "email": email, "display_name": "新任 花子", "roles": list(roles)})
    return response


def _link_path(message) -> str:
    return re.search(r"https?://[^/\s]+(/console/set-password/\S+/)", message.body).group(1)


def test_invitation_creates_the_account_and_emails_a_one_time_link(saga, django_capture_on_commit_callbacks):
    response = _invite(saga, django_capture_on_commit_callbacks, email="New.Staff@city.saga.example")
    assert response.status_code == 302
    with saga.schema():
        user = User.objects.get(username="new.staff@city.saga.example")
        assert user.kind == User.Kind.STAFF and user.is_active and not user.has_usable_password()
        assert sorted(user.groups.values_list("name", flat=True)) == ["teacher"]
        assert AuditEvent.objects.filter(action="staff.invited", actor=saga.admin, target_id=str(user.pk)).exists()
        roles_row = AuditEvent.objects.get(action="staff.roles_changed", target_id=str(user.pk))
        assert roles_row.data["after"] == ["teacher"] and roles_row.actor == saga.admin
    assert response["Location"] == f"/console/staff/{user.pk}/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["New.Staff@city.saga.example"]
    assert "佐賀市" in message.subject and "Invitation" in message.subject
    assert "http://saga.localhost/console/set-password/" in message.body

    # The link: the token moves into the session, then the form.
    client = TenantApiClient(saga.host)
    link = client.get(_link_path(message))
    assert link.status_code == 302 and link["Location"].endswith("/set/")
    form = client.get(link["Location"])
    assert form.status_code == 200 and "new.staff@city.saga.example" in form.content.decode()
    mismatch = client.post(link["Location"], {"password": NEW_PASSWORD, "password_again": "other"})
    assert mismatch.status_code == 400 and "確認用のパスワードが一致しません。" in mismatch.content.decode()
    weak = client.post(link["Location"], {"password": "12345678", "password_again": "12345678"})
    assert weak.status_code == 400
    assert "このパスワードは短すぎます。最低 10 文字以上必要です。" in weak.content.decode()
    done = client.post(link["Location"], {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/console/login/"

    signed_in = TenantApiClient(saga.host).post("/console/login/", {"username": "new.staff@city.saga.example",
                                                                    "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    # The link is spent.
    again = TenantApiClient(saga.host).get(_link_path(message))
    assert again.status_code == 404 and "このリンクは無効か" in again.content.decode()
    with saga.schema():
        assert AuditEvent.objects.filter(action="staff.password_set", actor=user).exists()


def test_a_resent_invitation_replaces_the_old_link(saga, django_capture_on_commit_callbacks):
    _invite(saga, django_capture_on_commit_callbacks)
    with saga.schema():
        user = User.objects.get(username="new.staff@city.saga.example")
    with django_capture_on_commit_callbacks(execute=True):
        resent = console_client(saga, "admin").post(f"/console/staff/{user.pk}/resend-invite/")
    assert resent.status_code == 302 and len(mail.outbox) == 2
    assert TenantApiClient(saga.host).get(_link_path(mail.outbox[0])).status_code == 404
    assert TenantApiClient(saga.host).get(_link_path(mail.outbox[1])).status_code == 302


def test_an_invitation_link_does_not_work_on_another_municipalitys_host(saga, kanzaki,
                                                                        django_capture_on_commit_callbacks):
    _invite(saga, django_capture_on_commit_callbacks)
    response = TenantApiClient(kanzaki.host).get(_link_path(mail.outbox[0]))
    assert response.status_code == 404


def test_tampered_links_are_refused(saga, django_capture_on_commit_callbacks):
    _invite(saga, django_capture_on_commit_callbacks)
    path = _link_path(mail.outbox[0])
    for bad in (path[:-3] + "zz/", "/console/set-password/MQ/abc-def/", "/console/set-password/%%%/x/",
                "/console/set-password/MQ/set/"):
        assert TenantApiClient(saga.host).get(bad).status_code == 404, bad


def test_roles_are_changed_through_the_audited_service(saga):
    analyst = saga.staff[Role.ANALYST]
    client = console_client(saga, "admin")
    response = client.post(f"/console/staff/{analyst.pk}/", {"roles": ["analyst", "disaster_staff"]})
    assert response.status_code == 302
    with saga.schema():
        assert sorted(analyst.groups.values_list("name", flat=True)) == ["analyst", "disaster_staff"]
        row = AuditEvent.objects.get(action="staff.roles_changed", target_id=str(analyst.pk), actor=saga.admin)
        assert row.data["before"] == ["analyst"] and row.data["after"] == ["analyst", "disaster_staff"]
    unchanged = client.post(f"/console/staff/{analyst.pk}/", {"roles": ["analyst", "disaster_staff"]})
    assert unchanged.status_code == 302
    with saga.schema():
        assert AuditEvent.objects.filter(action="staff.roles_changed", target_id=str(analyst.pk),
                                         actor=saga.admin).count() == 1  # no change, no row


def test_the_last_admin_keeps_the_admin_role(saga):
    client = console_client(saga, "admin")
    response = client.post(f"/console/staff/{saga.admin.pk}/", {"roles": ["analyst"]})
    assert response.status_code == 400
    assert "最後の自治体管理者の権限は外せません" in response.content.decode()
    with saga.schema():
        assert saga.admin.groups.filter(name=Role.MUNICIPALITY_ADMIN).exists()
        second = staff_create(username="admin2@saga.example", password=TEST_PASSWORD, roles=[Role.MUNICIPALITY_ADMIN])
    assert client.post(f"/console/staff/{saga.admin.pk}/", {"roles": ["municipality_admin", "analyst"]}).status_code == 302
    assert client.post(f"/console/staff/{second.pk}/", {"roles": ["analyst"]}).status_code == 302


def test_deactivation_revokes_tokens_ends_sessions_and_is_audited(saga):
    teacher = saga.staff[Role.TEACHER]
    with saga.schema():
        issued = staff_token_issue(user=teacher, client_ip="127.0.0.1")
    teachers_console = console_client(saga, Role.TEACHER)
    assert teachers_console.get("/console/").status_code == 200
    assert TenantApiClient(saga.host, issued.raw).get("/api/v1/me/").status_code == 200

    response = console_client(saga, "admin").post(f"/console/staff/{teacher.pk}/deactivate/")
    assert response.status_code == 302
    with saga.schema():
        teacher.refresh_from_db()
        assert not teacher.is_active
        assert not ApiToken.objects.filter(user=teacher, revoked_at__isnull=True).exists()
        row = AuditEvent.objects.get(action="staff.deactivated", target_id=str(teacher.pk))
        assert row.actor == saga.admin and row.data["tokens_revoked"] == 2  # the fixture's and this one
    assert TenantApiClient(saga.host, issued.raw).get("/api/v1/me/").status_code == 401
    assert teachers_console.get("/console/").status_code == 302  # signed out
    assert TenantApiClient(saga.host).post("/console/login/", {"username": "teacher@saga.example",
                                                               "password": TEST_PASSWORD}).status_code == 400
    listing = console_client(saga, "admin").get("/console/staff/").content.decode()
    assert "無効" in listing

    assert console_client(saga, "admin").post(f"/console/staff/{teacher.pk}/reactivate/").status_code == 302
    with saga.schema():
        teacher.refresh_from_db()
        assert teacher.is_active
        assert AuditEvent.objects.filter(action="staff.reactivated", target_id=str(teacher.pk)).exists()


def test_admins_cannot_deactivate_themselves(saga):
    client = console_client(saga, "admin")
    response = client.post(f"/console/staff/{saga.admin.pk}/deactivate/", follow=True)
    assert "自分自身のアカウントは無効にできません。" in response.content.decode()
    with saga.schema():
        saga.admin.refresh_from_db()
        assert saga.admin.is_active


def test_staff_list_pages_and_counts(saga):
    with saga.schema():
        for i in range(55):
            user = User.objects.create_user(username=f"many{i:02d}@saga.example", kind=User.Kind.STAFF, is_staff=True)
            staff_set_roles(staff=user, roles=["teacher"])
    client = console_client(saga, "admin")
    first = client.get("/console/staff/").content.decode()
    assert "61 人" in first and 'rel="next"' in first
    client.get("/console/staff/?page=2")
    with assert_num_queries(7):
        second = client.get("/console/staff/?page=2").content.decode()
    assert "2 / 2 ページ" in second
    assert client.get("/console/staff/?page=abc").status_code == 200  # clamps to a real page
