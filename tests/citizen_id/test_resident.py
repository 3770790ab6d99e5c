"""The resident's own citizen ID: view (audited), scan history, revocation, re-enrolment; staff
revocation; the daily maintenance that suspends IDs whose card was revoked or expired."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.roles import Role
from citizen_id import testca
from citizen_id.jpki.services import jpki_crl_load
from citizen_id.models import CitizenCard, CitizenId, EnrollmentChallenge
from citizen_id.services import citizen_ids_maintain
from tests.base import STAFF_ROLES, assert_num_queries

from .conftest import SAGA_CARD, enroll, enrolled


def _code(response) -> str:
    return response.json()["error"]["code"]


def test_own_citizen_id_shows_the_basic_four_and_audits_the_read(saga, jpki):
    reference = enrolled(saga, jpki, SAGA_CARD)["reference"]
    response = saga.client("resident").get("/api/v1/citizen-id/")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["reference"] == reference and body["status"] == "active"
    assert body["basic_info"]["name"] == "佐賀 花子"
    with saga.schema():
        event = AuditEvent.objects.get(action="citizen_id.pii_read")
        assert event.actor == saga.resident and event.data == {"purpose": "self", "reference": reference}


def test_own_citizen_id_query_count(saga, jpki):
    enrolled(saga, jpki, SAGA_CARD)
    client = saga.client("resident")
    with assert_num_queries(4):  # search_path, token, citizen ID, audit row
        assert client.get("/api/v1/citizen-id/").status_code == 200


def test_without_a_citizen_id(saga, jpki):
    response = saga.client("resident").get("/api/v1/citizen-id/")
    assert response.status_code == 404 and _code(response) == "not_found"
    assert saga.client("resident").delete("/api/v1/citizen-id/").status_code == 404
    assert saga.client("resident").get("/api/v1/citizen-id/scans/").status_code == 404


@pytest.mark.parametrize("who", ["admin", *STAFF_ROLES])
def test_staff_have_no_own_citizen_id_endpoints(saga, who):
    client = saga.client(who)
    assert client.get("/api/v1/citizen-id/").status_code == 403
    assert client.get("/api/v1/citizen-id/qr/").status_code == 403
    assert client.get("/api/v1/citizen-id/scans/").status_code == 403


def test_scan_history(saga, jpki):
    enrolled(saga, jpki, SAGA_CARD)
    resident = saga.client("resident")
    for who, purpose in ((Role.SHELTER_STAFF, "shelter"), (Role.COMMUNITY_MODERATOR, "event")):
        token = resident.get("/api/v1/citizen-id/qr/").json()["token"]
        assert saga.client(who).post("/api/v1/staff/citizen-id/verify/", {"token": token, "purpose": purpose},
                                     format="json").status_code == 200
    with assert_num_queries(5):  # search_path, token, citizen ID, count, page
        response = resident.get("/api/v1/citizen-id/scans/")
    body = response.json()
    assert body["count"] == 2
    assert [item["purpose"] for item in body["results"]] == ["event", "shelter"]
    assert body["results"][0]["purpose_label"] == "イベント / event" and body["results"][0]["via"] == "app"


def test_another_residents_scans_are_not_listed(saga, jpki):
    from .conftest import new_resident

    enrolled(saga, jpki, SAGA_CARD)
    token = saga.client("resident").get("/api/v1/citizen-id/qr/").json()["token"]
    saga.client(Role.SHELTER_STAFF).post("/api/v1/staff/citizen-id/verify/", {"token": token, "purpose": "shelter"},
                                        format="json")
    _, other = new_resident(saga)
    enrolled(saga, jpki, testca.CardSpec(**{**SAGA_CARD.__dict__, "birth": "420010101"}), key_index=1, client=other)
    assert other.get("/api/v1/citizen-id/scans/").json()["count"] == 0


def test_resident_revokes_and_the_pii_is_erased(saga, jpki):
    reference = enrolled(saga, jpki, SAGA_CARD)["reference"]
    client = saga.client("resident")
    assert client.delete("/api/v1/citizen-id/").status_code == 204
    assert client.get("/api/v1/citizen-id/").status_code == 404
    with saga.schema():
        citizen = CitizenId.objects.get(reference=reference)
        assert citizen.status == "revoked" and citizen.status_reason == "resident_request"
        assert bytes(citizen.pii_ciphertext) == b"" and citizen.pii_key_id == "" and citizen.card_index == ""
        assert not CitizenCard.objects.exists()
        assert AuditEvent.objects.filter(action="citizen_id.revoked", actor=saga.resident).exists()


def test_enrolling_after_revocation_issues_a_new_citizen_id(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    client = saga.client("resident")
    first = enroll(client, key, certificate).json()["reference"]
    client.delete("/api/v1/citizen-id/")
    again = enroll(client, key, certificate)
    assert again.status_code == 201 and again.json()["action"] == "issued"
    assert again.json()["reference"] != first


def test_staff_revocation(saga, jpki):
    reference = enrolled(saga, jpki, SAGA_CARD)["reference"]
    response = saga.client("admin").post("/api/v1/staff/citizen-id/revoke/",
                                         {"reference": reference, "reason": "deceased"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "revoked" and response.json()["status_reason"] == "deceased"
    assert saga.client("resident").get("/api/v1/citizen-id/").status_code == 404
    with saga.schema():
        assert AuditEvent.objects.filter(action="citizen_id.revoked", actor=saga.admin,
                                         data__reason="deceased").exists()


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_only_admins_revoke(saga, jpki, role):
    reference = enrolled(saga, jpki, SAGA_CARD)["reference"]
    response = saga.client(role).post("/api/v1/staff/citizen-id/revoke/", {"reference": reference, "reason": "fraud"},
                                      format="json")
    assert response.status_code == 403


def test_staff_revocation_across_municipalities_finds_nothing(saga, kanzaki, jpki):
    reference = enrolled(saga, jpki, SAGA_CARD)["reference"]
    response = kanzaki.client("admin").post("/api/v1/staff/citizen-id/revoke/",
                                            {"reference": reference, "reason": "fraud"}, format="json")
    assert response.status_code == 404
    with saga.schema():
        assert CitizenId.objects.get(reference=reference).status == "active"


# --- Maintenance -------------------------------------------------------------------------------------
def test_maintenance_suspends_ids_whose_card_was_revoked_and_renewal_restores_them(saga, jpki):
    key, certificate = jpki.card(SAGA_CARD)
    client = saga.client("resident")
    reference = enroll(client, key, certificate).json()["reference"]
    connection.set_schema_to_public()
    jpki_crl_load(data=testca.make_crl(jpki.ca, [certificate.serial_number], number=5))
    with saga.schema():
        EnrollmentChallenge.objects.create(nonce_hash="x" * 64, user=saga.resident,
                                           expires_at=timezone.now() - dt.timedelta(minutes=1))
        result = citizen_ids_maintain()
        assert result["suspended_card_revoked"] == 1 and result["challenges_purged"] == 1
        assert CitizenId.objects.get(reference=reference).status == "suspended"
    assert client.get("/api/v1/citizen-id/").json()["status"] == "suspended"
    assert _code(client.get("/api/v1/citizen-id/qr/")) == "citizen_id_suspended"
    # The renewed card (new serial, same person) restores the same citizen ID.
    renewed_key, renewed = jpki.card(SAGA_CARD, key_index=1)
    response = enroll(client, renewed_key, renewed)
    assert response.status_code == 200 and response.json()["reference"] == reference
    assert response.json()["status"] == "active"


def test_maintenance_suspends_expired_cards_and_erases_old_suspensions(saga, jpki, settings):
    reference = enrolled(saga, jpki, SAGA_CARD)["reference"]
    with saga.schema():
        CitizenId.objects.update(card_not_after=timezone.now() - dt.timedelta(days=1))
        assert citizen_ids_maintain()["suspended_card_expired"] == 1
        CitizenId.objects.update(status_changed_at=timezone.now() - dt.timedelta(days=91))
        settings.CITIZEN_ID_SUSPENDED_RETENTION_DAYS = 90
        assert citizen_ids_maintain()["erased"] == 1
        citizen = CitizenId.objects.get(reference=reference)
        assert citizen.status == "revoked" and bytes(citizen.pii_ciphertext) == b""


def test_maintenance_runs_as_a_celery_task_per_municipality(saga, jpki, settings):
    from citizen_id import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = True
    with saga.schema():
        assert tasks.maintain.apply().get()["erased"] == 0
    assert "citizen-id-maintenance" in settings.CELERY_BEAT_SCHEDULE
    assert settings.CELERY_BEAT_SCHEDULE["citizen-id-maintenance"]["args"] == ("citizen_id.tasks.maintain",)


def test_revoke_query_counts(saga, jpki):
    enrolled(saga, jpki, SAGA_CARD)
    # search_path, token, citizen ID; savepoint, update (PII erased), cards (select, delete), card QRs,
    # audit row, release
    with assert_num_queries(10):
        assert saga.client("resident").delete("/api/v1/citizen-id/").status_code == 204
    from .conftest import new_resident

    _, other = new_resident(saga)
    reference = enrolled(saga, jpki, SAGA_CARD, client=other)["reference"]
    admin = saga.client("admin")
    admin.get("/api/v1/me/")
    with assert_num_queries(11):  # search_path, token, roles, citizen ID; the same transaction as above
        assert admin.post("/api/v1/staff/citizen-id/revoke/", {"reference": reference, "reason": "fraud"},
                          format="json").status_code == 200
