"""Staff roles. Each role is a Django group of the same name in every municipality's schema;
a municipality admin holds every staff permission."""
from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    MUNICIPALITY_ADMIN = "municipality_admin", "自治体管理者 / Municipality admin"
    DISASTER_STAFF = "disaster_staff", "防災担当 / Disaster staff"
    SHELTER_STAFF = "shelter_staff", "避難所スタッフ / Shelter staff"
    TEACHER = "teacher", "教員 / Teacher"
    COMMUNITY_MODERATOR = "community_moderator", "地域モデレーター / Community moderator"
    ANALYST = "analyst", "データ分析担当 / Analyst"


ALL_ROLES: tuple[str, ...] = tuple(Role.values)
