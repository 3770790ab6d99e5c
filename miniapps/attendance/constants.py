"""Fixed vocabularies of the attendance mini-app: report types, symptoms, default reasons.

Symptom codes are stored on reports and in aggregates, so they are part of the API contract:
add new ones, never rename.
"""
from __future__ import annotations

from django.db import models


class ReportType(models.TextChoices):
    ABSENT = "absent", "欠席 / Absent"
    LATE = "late", "遅刻 / Late"
    EARLY_LEAVE = "early_leave", "早退 / Early leave"
    OTHER = "other", "その他 / Other"


class ReportStatus(models.TextChoices):
    PENDING = "pending", "未確認 / Pending"
    SEEN = "seen", "確認済み / Seen"
    WITHDRAWN = "withdrawn", "取り消し / Withdrawn"


class Symptom(models.TextChoices):
    FEVER = "fever", "発熱 / Fever"
    COUGH = "cough", "咳 / Cough"
    SORE_THROAT = "sore_throat", "のどの痛み / Sore throat"
    RUNNY_NOSE = "runny_nose", "鼻水 / Runny nose"
    STOMACH = "stomach", "腹痛・下痢 / Stomach ache, diarrhoea"
    VOMITING = "vomiting", "嘔吐 / Vomiting"
    HEADACHE = "headache", "頭痛 / Headache"
    RASH = "rash", "発疹 / Rash"
    FATIGUE = "fatigue", "だるさ / Fatigue"
    INFLUENZA = "influenza", "インフルエンザ / Influenza"
    COVID19 = "covid19", "新型コロナ / COVID-19"
    GASTROENTERITIS = "gastroenteritis", "感染性胃腸炎 / Infectious gastroenteritis"
    OTHER_INFECTION = "other_infection", "その他の感染症 / Other infectious disease"


# Symptoms that make an absence count toward the class-closure threshold unless the municipality
# sets its own list (学級閉鎖の検討). Headache, rash and fatigue alone are not counted.
DEFAULT_INFECTION_SYMPTOMS: tuple[str, ...] = (
    Symptom.FEVER, Symptom.COUGH, Symptom.SORE_THROAT, Symptom.STOMACH, Symptom.VOMITING,
    Symptom.INFLUENZA, Symptom.COVID19, Symptom.GASTROENTERITIS, Symptom.OTHER_INFECTION,
)

# Reasons every new school starts with; each school edits its own list.
DEFAULT_REASONS: tuple[tuple[str, str], ...] = (
    ("体調不良", "Feeling unwell"),
    ("通院", "Medical appointment"),
    ("家庭の事情", "Family reasons"),
    ("忌引", "Bereavement"),
    ("その他", "Other"),
)

MAX_RANGE_DAYS = 31
MAX_SYMPTOMS = len(Symptom.values)
NOTE_MAX_LENGTH = 500
TEMPERATURE_MIN = 34.0
TEMPERATURE_MAX = 42.5


def label_ja(choices: type[models.TextChoices], value: str) -> str:
    return str(choices(value).label).split(" / ")[0]


def label_en(choices: type[models.TextChoices], value: str) -> str:
    label = str(choices(value).label)
    return label.split(" / ", 1)[1] if " / " in label else label
