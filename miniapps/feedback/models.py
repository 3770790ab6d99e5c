"""Feedback (ご意見投稿) from residents and the staff's answer."""
from __future__ import annotations

from django.db import models

from accounts.models import User


class Feedback(models.Model):
    class Category(models.TextChoices):
        OPINION = "opinion", "ご意見 / Opinion"
        REQUEST = "request", "ご要望 / Request"
        QUESTION = "question", "ご質問 / Question"
        BUG = "bug", "不具合の報告 / Bug report"
        OTHER = "other", "その他 / Other"

    class Status(models.TextChoices):
        NEW = "new", "未回答 / New"
        ANSWERED = "answered", "回答済み / Answered"

    resident = models.ForeignKey(User, on_delete=models.CASCADE, related_name="feedback")
    category = models.CharField(max_length=16, choices=Category.choices)
    text = models.TextField(max_length=4000)
    miniapp_id = models.SlugField(max_length=50, blank=True)
    reply_email = models.EmailField("返信先", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    reply = models.TextField(max_length=4000, blank=True)
    replied_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="feedback_status_created"),
            models.Index(fields=["resident", "-created_at"], name="feedback_resident_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} #{self.pk}"
