"""Fixtures for the citizen ID: a test J-LIS (two trusted signing CAs, as during a CA renewal, and a
rogue CA with the same name), CRLs loaded into the public schema, and helpers that enrol the way the
app does: challenge → the card signs the nonce → enroll."""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from accounts.services import resident_create
from citizen_id import signing, testca
from citizen_id.jpki.services import jpki_crl_load
from tests.base import TenantApiClient, TenantFixture


@dataclass
class Jpki:
    ca: testca.SigningCa  # the trusted signing CA
    renewed_ca: testca.SigningCa  # a second trusted anchor (J-LIS CA renewal)
    rogue_ca: testca.SigningCa  # same subject as `ca`, different key: not trusted
    anchor_paths: list[str]
    keys: list  # RSA card keys, reused (2048-bit generation is slow)

    def card(self, spec: testca.CardSpec | None = None, *, ca: testca.SigningCa | None = None, key_index: int = 0):
        key = self.keys[key_index]
        return testca.make_card(ca or self.ca, spec, key=key)


@pytest.fixture(scope="session")
def jpki_session(tmp_path_factory) -> Jpki:
    directory: Path = tmp_path_factory.mktemp("jpki")
    ca = testca.make_ca("Test Signing CA")
    renewed = testca.make_ca("Test Signing CA 2")
    rogue = testca.make_ca("Test Signing CA")
    paths = []
    for name, bundle in (("ca.pem", ca), ("renewed.pem", renewed)):
        (directory / name).write_bytes(bundle.pem)
        paths.append(str(directory / name))
    return Jpki(ca, renewed, rogue, paths, [testca.new_rsa_key() for _ in range(4)])


@pytest.fixture
def jpki(jpki_session, settings, db) -> Jpki:
    """Trust anchors configured and a current, empty CRL loaded for both CAs."""
    settings.JPKI_TRUST_ANCHORS = list(jpki_session.anchor_paths)
    connection.set_schema_to_public()
    jpki_crl_load(data=testca.make_crl(jpki_session.ca, []))
    jpki_crl_load(data=testca.make_crl(jpki_session.renewed_ca, []))
    return jpki_session


@pytest.fixture(autouse=True)
def _fresh_signing_key_cache():
    """Signing keys are cached per process; each test's rows are rolled back, so start clean."""
    signing.clear_caches()
    yield
    signing.clear_caches()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def challenge(client: TenantApiClient) -> bytes:
    response = client.post("/api/v1/citizen-id/challenge/")
    assert response.status_code == 201, response.content
    return base64.b64decode(response.json()["nonce"])


def enroll(client: TenantApiClient, key, certificate, *, nonce: bytes | None = None, sign_with=None,
           message: bytes | None = None):
    """The app's enrolment: fetch a challenge, let the 'card' sign it, post certificate + signature."""
    nonce = challenge(client) if nonce is None else nonce
    signature = testca.sign_nonce(sign_with or key, nonce if message is None else message)
    return client.post("/api/v1/citizen-id/enroll/", {
        "certificate": b64(testca.der(certificate)), "signature": b64(signature), "nonce": b64(nonce)}, format="json")


def new_resident(tenant: TenantFixture, nickname: str = "別の住民") -> tuple[object, TenantApiClient]:
    with tenant.schema():
        issued = resident_create(nickname=nickname)
    return issued.token.user, TenantApiClient(tenant.host, issued.raw)


def enrolled(tenant: TenantFixture, jpki: Jpki, spec: testca.CardSpec | None = None, *, key_index: int = 0,
             client: TenantApiClient | None = None) -> dict:
    """A resident of `tenant` with a citizen ID; returns the enrol response body."""
    client = client or tenant.client("resident")
    key, certificate = jpki.card(spec, key_index=key_index)
    response = enroll(client, key, certificate)
    assert response.status_code in (200, 201), response.content
    return response.json()


SAGA_CARD = testca.CardSpec(name="佐賀 花子", address="佐賀県佐賀市栄町1番1号", birth="319800102", sex="2")
KANZAKI_CARD = testca.CardSpec(name="神埼 一郎", address="佐賀県神埼市神埼町神埼410", birth="419900315", sex="1")


def utc(seconds: int = 0) -> dt.datetime:
    return testca.utcnow() + dt.timedelta(seconds=seconds)
