"""Checking evacuees in with the citizen ID QR: online, offline uploads, and what must fail."""
from __future__ import annotations

import datetime as dt
import re
import uuid

from django.core import mail
from django.utils import timezone

from accounts.models import AuditEvent
from shelters.models import CheckIn
from tests.base import assert_num_queries
from tests.citizen_id.conftest import KANZAKI_CARD, SAGA_CARD, enrolled
from tests.shelters.test_operations import _check_in


def _fresh_qr(tenant) -> str:
    response = tenant.client("resident").get("/api/v1/citizen-id/qr/")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_qr_check_in_takes_the_person_from_the_citizen_id(saga, jpki, flood, saga_shelters):
    enrolled(saga, jpki, SAGA_CARD)
    response = _check_in(saga.client("shelter_staff"), saga_shelters[0].pk,
                         {"qr_token": _fresh_qr(saga), "special_care": ["elderly"]})
    assert response.status_code == 201, response.content
    person = response.json()["check_ins"][0]
    assert (person["source"], person["name"], person["sex"], person["birth_date"]) == \
        ("qr", "佐賀 花子", "female", "1980-01-02")
    assert person["address"] == "佐賀県佐賀市栄町1番1号" and person["special_care"] == ["elderly"]
    with saga.schema():
        check_in = CheckIn.objects.get(pk=person["id"])
        assert check_in.resident_id == saga.resident.pk and check_in.citizen_ref
        assert AuditEvent.objects.filter(action="citizen_id.scanned", actor=saga.staff["shelter_staff"],
                                         data__purpose="shelter").exists()


def test_qr_person_already_here_is_not_duplicated(saga, jpki, flood, saga_shelters):
    enrolled(saga, jpki, SAGA_CARD)
    staff = saga.client("shelter_staff")
    first = _check_in(staff, saga_shelters[0].pk, {"qr_token": _fresh_qr(saga)}).json()
    again = _check_in(staff, saga_shelters[0].pk, {"qr_token": _fresh_qr(saga)})
    assert again.status_code == 200
    assert again.json()["already_checked_in"][0]["id"] == first["check_ins"][0]["id"]


def test_replayed_expired_and_foreign_qrs_are_refused(saga, kanzaki, jpki, flood, saga_shelters, settings):
    enrolled(saga, jpki, SAGA_CARD)
    staff = saga.client("shelter_staff")
    token = _fresh_qr(saga)
    assert _check_in(staff, saga_shelters[0].pk, {"qr_token": token}).status_code == 201
    replay = _check_in(staff, saga_shelters[1].pk, {"qr_token": token})
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "qr_replayed"

    enrolled(kanzaki, jpki, KANZAKI_CARD)
    foreign = _check_in(staff, saga_shelters[1].pk, {"qr_token": _fresh_qr(kanzaki)})
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "qr_wrong_municipality"

    garbage = _check_in(staff, saga_shelters[1].pk, {"qr_token": "CI1:NOTATOKEN"})
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "qr_invalid"


def test_family_email_after_a_qr_check_in(saga, jpki, flood, saga_shelters, eager_celery,
                                         django_capture_on_commit_callbacks):
    enrolled(saga, jpki, SAGA_CARD)
    with django_capture_on_commit_callbacks(execute=True):
        saga.client("resident").put("/api/v1/me/emergency-contacts/",
                                    {"contacts": [{"email": "family@example.jp", "name": "家族"}]}, format="json")
    token = re.search(r"/contacts/confirm/(\S+)/", mail.outbox[0].body).group(1)
    saga.client().get(f"/contacts/confirm/{token}/")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _check_in(saga.client("shelter_staff"), saga_shelters[0].pk, {"qr_token": _fresh_qr(saga)})
    assert response.status_code == 201
    assert [m.to for m in mail.outbox] == [["family@example.jp"]]
    assert "佐賀 花子" in mail.outbox[0].body and saga_shelters[0].name in mail.outbox[0].body


def test_offline_batch_accepts_a_qr_valid_when_scanned(saga, jpki, flood, saga_shelters, time_machine):
    enrolled(saga, jpki, SAGA_CARD)
    token = _fresh_qr(saga)
    scanned_at = timezone.now()
    time_machine.move_to(scanned_at + dt.timedelta(hours=2))  # the network comes back two hours later
    staff = saga.client("shelter_staff")
    url = f"/api/v1/staff/shelters/{saga_shelters[0].pk}/check-ins/batch/"
    item = {"client_id": str(uuid.uuid4()), "checked_in_at": scanned_at.isoformat(), "qr_token": token}
    results = staff.post(url, {"items": [item]}, format="json").json()["results"]
    assert results[0]["status"] == "created", results
    assert results[0]["check_ins"][0]["name"] == "佐賀 花子"
    # The same upload again: idempotent per item, even though the QR was used.
    again = staff.post(url, {"items": [item]}, format="json").json()["results"]
    assert again[0]["status"] == "already_uploaded"
    # A claimed scan time when the QR was not valid is refused, per item, without failing the batch.
    late = {"client_id": str(uuid.uuid4()), "checked_in_at": (scanned_at + dt.timedelta(minutes=5)).isoformat(),
            "qr_token": _fresh_qr(saga)}
    late["checked_in_at"] = (timezone.now() - dt.timedelta(hours=100)).isoformat()
    rejected = staff.post(url, {"items": [late]}, format="json").json()["results"]
    assert rejected[0]["status"] == "rejected" and rejected[0]["error"]["code"] == "qr_expired"


def test_qr_check_in_query_count(saga, jpki, flood, saga_shelters):
    enrolled(saga, jpki, SAGA_CARD)
    staff = saga.client("shelter_staff")
    staff.get(f"/api/v1/staff/shelters/{saga_shelters[0].pk}/evacuees/")  # the token's last-use stamp
    token = _fresh_qr(saga)
    # search_path, token, roles, shelter; savepoint (the test's transaction), idempotency record;
    # the scan: citizen ID, audit row; savepoint, opening (locked), duplicate lookup, check-in, audit
    # row, whether anyone is to be told, release; idempotency record, release.
    with assert_num_queries(17):
        assert _check_in(staff, saga_shelters[0].pk, {"qr_token": token}).status_code == 201


def test_qr_check_in_of_a_resident_without_confirmed_contacts_sends_no_task(
        saga, jpki, flood, saga_shelters, django_capture_on_commit_callbacks):
    enrolled(saga, jpki, SAGA_CARD)
    with django_capture_on_commit_callbacks(execute=True):  # a contact, not confirmed yet
        saga.client("resident").put("/api/v1/me/emergency-contacts/",
                                    {"contacts": [{"email": "family@example.jp"}]}, format="json")
    token = _fresh_qr(saga)
    with django_capture_on_commit_callbacks() as callbacks:
        assert _check_in(saga.client("shelter_staff"), saga_shelters[0].pk, {"qr_token": token}).status_code == 201
    assert len(callbacks) == 1  # the public list's version only: no family-notice task to queue
