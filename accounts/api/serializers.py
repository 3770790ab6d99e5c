"""Input and output serializers for the accounts API. Validation of shape only; rules live in services."""
from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..models import District, User
from ..roles import ALL_ROLES
from ..selectors import user_role_names


class DistrictOutput(serializers.ModelSerializer):
    class Meta:
        model = District
        fields = ["id", "name", "kana"]


class DistrictInput(serializers.Serializer):
    name = StrictCharField(max_length=100, trim_whitespace=True)
    kana = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class MeOutput(serializers.ModelSerializer):
    district = DistrictOutput(allow_null=True)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "kind", "nickname", "district", "interests", "birth_year", "language", "date_joined", "roles"]

    def get_roles(self, user: User) -> list[str]:
        return sorted(user_role_names(user))


class ProfileInput(serializers.Serializer):
    """Fields a resident may set; all optional (PATCH semantics)."""

    nickname = StrictCharField(max_length=50, required=False, allow_blank=True)
    district = serializers.PrimaryKeyRelatedField(queryset=District.objects.all(), required=False, allow_null=True)
    interests = serializers.ListField(child=StrictCharField(max_length=32), required=False, max_length=20)
    birth_year = serializers.IntegerField(required=False, allow_null=True, min_value=1900)
    language = serializers.ChoiceField(choices=User.Language.choices, required=False)

    def validate_birth_year(self, value):
        if value is not None and value > timezone.localdate().year:
            raise serializers.ValidationError("生まれ年が未来です。 / Birth year is in the future.")
        return value


class ResidentCreateInput(ProfileInput):
    device_label = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class TokenOutput(serializers.Serializer):
    token = StrictCharField()
    token_expires_at = serializers.DateTimeField()


class ResidentCreateOutput(TokenOutput):
    resident = MeOutput()


class StaffTokenInput(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=256, trim_whitespace=False)
    device_label = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class StaffTokenOutput(TokenOutput):
    roles = serializers.ListField(child=serializers.ChoiceField(choices=ALL_ROLES))
