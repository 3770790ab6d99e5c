"""System checks: keys and trust anchors are configured (`manage.py check --deploy` for production)."""
from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register("citizen_id")
def check_configuration(app_configs, **kwargs):
    from .crypto import keyring
    from .jpki.verification import trust_anchors

    problems = []
    try:
        keyring()
    except ImproperlyConfigured as exc:
        problems.append(checks.Error(str(exc), id="citizen_id.E001"))
    try:
        trust_anchors()
    except ImproperlyConfigured as exc:
        problems.append(checks.Error(str(exc), id="citizen_id.E002"))
    return problems


@checks.register("citizen_id", deploy=True)
def check_production_keys(app_configs, **kwargs):
    problems = []
    if not settings.CITIZEN_ID_PII_KEYS.strip():
        problems.append(checks.Error(
            "CITIZEN_ID_PII_KEYS is not set: citizen-ID PII is encrypted under a key derived from SECRET_KEY.",
            hint="Set CITIZEN_ID_PII_KEYS=<id>:<base64 of 32 random bytes> (python -c 'import os,base64;"
                 "print(base64.b64encode(os.urandom(32)).decode())').", id="citizen_id.E003"))
    if not settings.CITIZEN_ID_BLIND_INDEX_KEY.strip():
        problems.append(checks.Error("CITIZEN_ID_BLIND_INDEX_KEY is not set (derived from SECRET_KEY).",
                                     id="citizen_id.E004"))
    if not settings.JPKI_TRUST_ANCHORS:
        problems.append(checks.Warning("JPKI_TRUST_ANCHORS is empty: residents cannot enrol.", id="citizen_id.W001"))
    return problems
