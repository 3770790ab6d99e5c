"""Feedback API serializers (shape only)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..models import Feedback


class FeedbackInput(serializers.Serializer):
    category = serializers.ChoiceField(choices=Feedback.Category.choices)
    text = StrictCharField(max_length=4000, trim_whitespace=False)
    miniapp = StrictCharField(max_length=50, required=False, allow_blank=True, default="",
                              help_text="The mini-app it is about, if any.")
    reply_email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="",
                                         help_text="Where to e-mail the answer, if wanted.")


class FeedbackOutput(serializers.ModelSerializer):
    miniapp = serializers.CharField(source="miniapp_id")

    class Meta:
        model = Feedback
        fields = ["id", "category", "text", "miniapp", "reply_email", "status", "reply", "replied_at", "created_at"]


class FeedbackResidentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()
    district = serializers.CharField(allow_null=True)


class StaffFeedbackOutput(FeedbackOutput):
    resident = serializers.SerializerMethodField()
    replied_by = serializers.SerializerMethodField()

    class Meta(FeedbackOutput.Meta):
        fields = [*FeedbackOutput.Meta.fields, "resident", "replied_by"]

    @extend_schema_field(FeedbackResidentOutput)
    def get_resident(self, feedback) -> dict:
        user = feedback.resident
        return {"id": user.pk, "nickname": user.nickname, "district": user.district.name if user.district else None}

    def get_replied_by(self, feedback) -> str | None:
        user = feedback.replied_by
        return (user.display_name or user.username) if user is not None else None


class StaffFeedbackQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=Feedback.Status.choices, required=False)
    category = serializers.ChoiceField(choices=Feedback.Category.choices, required=False)


class FeedbackReplyInput(serializers.Serializer):
    text = StrictCharField(max_length=4000, trim_whitespace=False)
