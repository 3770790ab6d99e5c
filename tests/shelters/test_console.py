"""Disaster operations in the staff console: disaster control, the reception screen (QR text from a
scanner, manual entry, check-out) and the HQ report — through the same services as the API."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from shelters.models import CheckIn, Disaster, ShelterOpening
from tests.base import TEST_PASSWORD, assert_num_queries
from tests.citizen_id.conftest import SAGA_CARD, enrolled
from tests.shelters.test_qr_check_in import _fresh_qr


def console(tenant, who: str) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    user = tenant.admin if who == "admin" else tenant.staff[who]
    response = client.post("/console/login/", {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def _key(page) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode()).group(1)


def test_disaster_staff_open_a_disaster_and_shelters(saga, saga_shelters):
    client = console(saga, "disaster_staff")
    response = client.post("/console/shelters/disasters/", {"action": "open_disaster", "name": "大雨", "type": "flood"})
    assert response.status_code == 302
    with saga.schema():
        disaster = Disaster.objects.get(name="大雨")
    for shelter in saga_shelters[:2]:
        client.post("/console/shelters/disasters/", {"action": "open_shelter", "disaster": disaster.pk,
                                                     "shelter": shelter.pk})
    page = client.get("/console/shelters/disasters/")
    assert page.status_code == 200 and "大雨" in page.content.decode()
    with saga.schema():
        assert ShelterOpening.objects.filter(disaster=disaster, closed_at__isnull=True).count() == 2
    bad = client.post("/console/shelters/disasters/", {"action": "open_disaster", "name": "", "type": "meteor"})
    assert bad.status_code == 400 and "この項目は必須です" in bad.content.decode()


def test_reception_checks_in_by_scanned_qr_text_and_by_hand(saga, jpki, flood, saga_shelters):
    enrolled(saga, jpki, SAGA_CARD)
    client = console(saga, "shelter_staff")
    url = f"/console/shelters/{saga_shelters[0].pk}/reception/"
    page = client.get(url)
    assert page.status_code == 200 and 'autofocus' in page.content.decode()
    scanned = client.post(url, {"action": "scan", "qr_token": _fresh_qr(saga), "idempotency_key": _key(page)},
                          follow=True)
    assert "佐賀 花子 さんを受け付けました" in scanned.content.decode()
    page = client.get(url)
    manual = {"action": "manual", "name": "手入力 太郎", "birth_date": "1940-02-03", "sex": "male",
              "special_care": ["elderly"], "idempotency_key": _key(page)}
    client.post(url, manual)
    client.post(url, manual)  # a double-clicked submit checks in once
    with saga.schema():
        people = list(CheckIn.objects.filter(opening__shelter=saga_shelters[0]).order_by("id"))
    assert [(p.name, p.source) for p in people] == [("佐賀 花子", "qr"), ("手入力 太郎", "manual")]
    listing = client.get(url).content.decode()
    assert "佐賀 花子" in listing and "手入力 太郎" in listing and "2 人" in listing

    client.post(url, {"action": "check_out", "check_in": [people[1].pk]})
    with saga.schema():
        assert CheckIn.objects.get(pk=people[1].pk).checked_out_at is not None


def test_reception_shows_errors_for_bad_qr_and_closed_shelters(saga, flood, saga_shelters):
    client = console(saga, "shelter_staff")
    url = f"/console/shelters/{saga_shelters[0].pk}/reception/"
    page = client.get(url)
    response = client.post(url, {"action": "scan", "qr_token": "not a qr", "idempotency_key": _key(page)},
                           follow=True)
    assert "市民証のQRコードとして読み取れません" in response.content.decode()
    closed = f"/console/shelters/{saga_shelters[5].pk}/reception/"
    page = client.get(closed)
    assert "開設されていません" in page.content.decode()


def test_hq_report_page_and_csv(saga, flood, saga_shelters):
    client = console(saga, "disaster_staff")
    page = client.get(f"/console/shelters/disasters/{flood.pk}/report/")
    assert page.status_code == 200 and "災害対策本部" in page.content.decode()
    csv_response = client.get(f"/console/shelters/disasters/{flood.pk}/report/?format=csv")
    assert csv_response["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("who, path, status", [
    ("shelter_staff", "/console/shelters/disasters/", 403),
    ("teacher", "/console/shelters/", 403),
    ("analyst", "/console/shelters/{shelter}/reception/", 403),
    ("shelter_staff", "/console/shelters/{shelter}/reception/", 200),
])
def test_roles(saga, flood, saga_shelters, who, path, status):
    client = console(saga, who)
    assert client.get(path.format(shelter=saga_shelters[0].pk)).status_code == status


def test_resident_text_is_escaped_on_the_reception_screen(saga, flood, saga_shelters):
    client = console(saga, "shelter_staff")
    url = f"/console/shelters/{saga_shelters[0].pk}/reception/"
    page = client.get(url)
    client.post(url, {"action": "manual", "name": "<script>alert(1)</script>", "idempotency_key": _key(page)})
    body = client.get(url).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_reception_query_count_is_constant(saga, flood, saga_shelters):
    client = console(saga, "shelter_staff")
    url = f"/console/shelters/{saga_shelters[0].pk}/reception/"
    for n in range(3):
        page = client.get(url)
        client.post(url, {"action": "manual", "name": f"人{n}", "idempotency_key": _key(page)})
    client.get(url)
    # search_path, session, user, roles, shelter, evacuees (one query, however many)
    with assert_num_queries(6):
        client.get(url)
    for n in range(3, 8):
        page = client.get(url)
        client.post(url, {"action": "manual", "name": f"人{n}", "idempotency_key": _key(page)})
    client.get(url)
    with assert_num_queries(6):
        client.get(url)


def test_reception_page_element_ids_are_unique(saga, flood, saga_shelters):
    # The scan and manual forms share field names; with shared ids their labels point at the wrong form.
    html = console(saga, "shelter_staff").get(f"/console/shelters/{saga_shelters[0].pk}/reception/").content.decode()
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert "id_special_care_0" in ids and "id_manual_special_care_0" in ids
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
