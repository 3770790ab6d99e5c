"""Announcements (お知らせ) and which residents have seen them."""
from __future__ import annotations

from django.db import models

from accounts.models import District, User


class Announcement(models.Model):
    class Audience(models.TextChoices):
        EVERYONE = "everyone", "全員 / Everyone"
        DISTRICT = "district", "校区 / A district"
        INTEREST = "interest", "関心タグ / An interest tag"

    title = models.CharField("件名", max_length=120)
    title_en = models.CharField("English title", max_length=200, blank=True)
    body = models.TextField("本文", max_length=5000)
    body_en = models.TextField("English body", max_length=10000, blank=True)
    starts_at = models.DateTimeField("掲載開始")
    ends_at = models.DateTimeField("掲載終了")
    audience = models.CharField(max_length=16, choices=Audience.choices, default=Audience.EVERYONE)
    district = models.ForeignKey(District, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    interest = models.CharField(max_length=32, blank=True)
    show_as_popup = models.BooleanField("ポップアップ表示", default=False)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["ends_at", "starts_at"], name="announcements_period")]
        constraints = [models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")),
                                              name="announcements_period_ordered")]

    def __str__(self) -> str:
        return self.title


class AnnouncementSeen(models.Model):
    announcement = models.ForeignKey(Announcement, on_delete=models.CASCADE, related_name="seen_by")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["announcement", "user"], name="announcements_seen_once")]
