"""Announcement API serializers (shape only)."""
from __future__ import annotations

from rest_framework import serializers

from accounts.api.serializers import DistrictOutput
from accounts.models import District
from superapp.api.fields import StrictCharField

from ..models import Announcement


class AnnouncementOutput(serializers.ModelSerializer):
    seen = serializers.BooleanField()

    class Meta:
        model = Announcement
        fields = ["id", "title", "title_en", "body", "body_en", "starts_at", "ends_at", "audience", "show_as_popup",
                  "seen"]


class StaffAnnouncementOutput(serializers.ModelSerializer):
    district = DistrictOutput(allow_null=True)
    seen_count = serializers.IntegerField(help_text="Residents who marked it as seen.")
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Announcement
        fields = ["id", "title", "title_en", "body", "body_en", "starts_at", "ends_at", "audience", "district",
                  "interest", "show_as_popup", "seen_count", "created_by", "created_at", "updated_at"]

    def get_created_by(self, announcement) -> str | None:
        user = announcement.created_by
        return (user.display_name or user.username) if user is not None else None


class AnnouncementInput(serializers.Serializer):
    title = StrictCharField(max_length=120)
    title_en = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    body = StrictCharField(max_length=5000, trim_whitespace=False)
    body_en = StrictCharField(max_length=10000, required=False, allow_blank=True, default="", trim_whitespace=False)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    audience = serializers.ChoiceField(choices=Announcement.Audience.choices, required=False,
                                       default=Announcement.Audience.EVERYONE)
    district = serializers.PrimaryKeyRelatedField(queryset=District.objects.all(), required=False, allow_null=True,
                                                  default=None)
    interest = StrictCharField(max_length=32, required=False, allow_blank=True, default="")
    show_as_popup = serializers.BooleanField(required=False, default=False)
