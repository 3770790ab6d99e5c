"""Shelters (避難所), disasters, shelter openings, check-ins, emergency contacts and CAP alerts.

Field names follow the national standard 指定緊急避難場所一覧 and the 避難所 data model where they
exist; counts reported to the disaster HQ are computed from check-ins, never typed in twice.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class Hazard(models.TextChoices):
    FLOOD = "flood", "洪水 / Flood"
    LANDSLIDE = "landslide", "崖崩れ、土石流及び地滑り / Landslide"
    STORM_SURGE = "storm_surge", "高潮 / Storm surge"
    EARTHQUAKE = "earthquake", "地震 / Earthquake"
    TSUNAMI = "tsunami", "津波 / Tsunami"
    FIRE = "fire", "大規模な火事 / Large fire"
    INLAND_FLOOD = "inland_flood", "内水氾濫 / Inland flooding"
    VOLCANO = "volcano", "火山現象 / Volcanic"


class Shelter(models.Model):
    external_id = models.CharField("ID（オープンデータ）", max_length=64, blank=True, db_index=True)
    name = models.CharField("名称", max_length=200)
    kana = models.CharField("名称_カナ", max_length=200, blank=True)
    name_en = models.CharField("名称_英字", max_length=200, blank=True)
    postal_code = models.CharField("郵便番号", max_length=16, blank=True)
    address = models.CharField("所在地_連結表記", max_length=300)
    building = models.CharField("建物名等(方書)", max_length=200, blank=True)
    latitude = models.FloatField("緯度", null=True, blank=True)
    longitude = models.FloatField("経度", null=True, blank=True)
    elevation = models.FloatField("標高", null=True, blank=True)
    phone = models.CharField("電話番号", max_length=40, blank=True)
    extension = models.CharField("内線番号", max_length=20, blank=True)
    email = models.CharField("連絡先メールアドレス", max_length=254, blank=True)
    capacity = models.PositiveIntegerField("想定収容人数", default=0)
    hazards = ArrayField(models.CharField(max_length=16, choices=Hazard.choices), default=list, blank=True)
    is_designated_shelter = models.BooleanField("指定避難所との重複", default=False)
    is_welfare_shelter = models.BooleanField("福祉避難所", default=False)
    pets_allowed = models.BooleanField("ペット同行避難", default=False)
    car_stay_allowed = models.BooleanField("車中泊", default=False)
    neighbourhoods = models.CharField("対象となる町会・自治会", max_length=500, blank=True)
    url = models.URLField(max_length=500, blank=True)
    notes = models.TextField("備考", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Disaster(models.Model):
    class Type(models.TextChoices):
        FLOOD = "flood", "洪水・大雨 / Flood"
        LANDSLIDE = "landslide", "土砂災害 / Landslide"
        STORM_SURGE = "storm_surge", "高潮 / Storm surge"
        EARTHQUAKE = "earthquake", "地震 / Earthquake"
        TSUNAMI = "tsunami", "津波 / Tsunami"
        TYPHOON = "typhoon", "台風 / Typhoon"
        FIRE = "fire", "大規模火災 / Large fire"
        VOLCANO = "volcano", "火山 / Volcano"
        OTHER = "other", "その他 / Other"

    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices)
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["-opened_at", "-id"]

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class ShelterOpening(models.Model):
    """A shelter open for a disaster (開設〜閉鎖). A shelter is open for at most one disaster at a time."""

    disaster = models.ForeignKey(Disaster, on_delete=models.PROTECT, related_name="openings")
    shelter = models.ForeignKey(Shelter, on_delete=models.PROTECT, related_name="openings")
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["shelter"], condition=Q(closed_at__isnull=True),
                                    name="one_open_opening_per_shelter"),
        ]


class Sex(models.TextChoices):
    MALE = "male", "男性 / Male"
    FEMALE = "female", "女性 / Female"
    OTHER = "other", "その他・不明 / Other or unknown"


class SpecialCare(models.TextChoices):
    ELDERLY = "elderly", "高齢者 / Elderly"
    DISABILITY = "disability", "障がい者 / Disability"
    PREGNANCY = "pregnancy", "妊産婦 / Pregnancy"
    INFANT = "infant", "乳幼児 / Infant"
    MEDICAL_CARE = "medical_care", "医療的ケア / Needs medical care"


class CheckIn(models.Model):
    class Source(models.TextChoices):
        QR = "qr", "市民証QR / Citizen ID QR"
        MANUAL = "manual", "手入力 / Manual entry"

    opening = models.ForeignKey(ShelterOpening, on_delete=models.PROTECT, related_name="check_ins")
    household_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    # The citizen ID reference from a QR (no PII in it); the resident account when known.
    citizen_ref = models.CharField(max_length=64, blank=True, db_index=True)
    resident = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="shelter_check_ins")
    name = models.CharField("氏名", max_length=100)
    kana = models.CharField("氏名（かな）", max_length=200, blank=True)
    address = models.CharField("住所", max_length=300, blank=True)
    birth_date = models.DateField("生年月日", null=True, blank=True)
    sex = models.CharField(max_length=8, choices=Sex.choices, default=Sex.OTHER)
    special_care = ArrayField(models.CharField(max_length=16, choices=SpecialCare.choices), default=list, blank=True)
    pets = models.PositiveSmallIntegerField(default=0)
    checked_in_at = models.DateTimeField()
    checked_out_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Set when the same person is already checked in at another open shelter; staff resolve it.
    possible_duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                              related_name="+")
    client_item_id = models.CharField(max_length=64, blank=True)  # offline batch item id
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-checked_in_at", "-id"]
        indexes = [models.Index(fields=["opening", "checked_out_at"])]
        constraints = [
            models.UniqueConstraint(fields=["opening", "client_item_id"], condition=~Q(client_item_id=""),
                                    name="one_check_in_per_offline_item"),
        ]


class IdempotencyRecord(models.Model):
    """The stored answer to a request sent with an Idempotency-Key, so a retry gets the same answer."""

    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="unique_idempotency_key")]


class EmergencyContact(models.Model):
    """A family member or friend to email when the resident checks in at a shelter."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="emergency_contacts")
    name = models.CharField(max_length=100, blank=True)
    email = models.EmailField()
    confirm_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["user", "email"], name="one_contact_per_email")]


class FamilyNotice(models.Model):
    """One email per check-in and contact: the record that makes sending idempotent."""

    check_in = models.ForeignKey(CheckIn, on_delete=models.CASCADE, related_name="family_notices")
    contact = models.ForeignKey(EmergencyContact, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["check_in", "contact"], name="one_notice_per_contact")]


class Alert(models.Model):
    """An OASIS CAP 1.2 alert as received; Update and Cancel messages supersede earlier ones."""

    class MsgType(models.TextChoices):
        ALERT = "Alert"
        UPDATE = "Update"
        CANCEL = "Cancel"

    identifier = models.CharField(max_length=255, unique=True)
    sender = models.CharField(max_length=255)
    sent = models.DateTimeField()
    status = models.CharField(max_length=16)
    msg_type = models.CharField(max_length=8, choices=MsgType.choices)
    scope = models.CharField(max_length=16)
    references = models.JSONField(default=list, blank=True)
    event = models.CharField(max_length=255)
    urgency = models.CharField(max_length=16)
    severity = models.CharField(max_length=16)
    certainty = models.CharField(max_length=16)
    headline = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    instruction = models.TextField(blank=True)
    area_desc = models.CharField(max_length=500, blank=True)
    effective = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True)
    district_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)  # empty = everyone
    is_active = models.BooleanField(default=True)
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    raw_xml = models.TextField()
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    push_notification_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-sent", "-id"]
