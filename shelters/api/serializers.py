"""Input and output serializers for the shelters API."""
from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from superapp.api.fields import StrictCharField

from ..models import CheckIn, Disaster, Sex, SpecialCare


class DisasterInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    type = serializers.ChoiceField(choices=Disaster.Type.choices)


class DisasterOutput(serializers.ModelSerializer):
    open_shelters = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Disaster
        fields = ["id", "name", "type", "opened_at", "closed_at", "open_shelters"]


class OpeningOutput(serializers.Serializer):
    disaster_id = serializers.IntegerField()
    shelter_id = serializers.IntegerField()
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class PersonInput(serializers.Serializer):
    name = StrictCharField(max_length=100)
    kana = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    address = StrictCharField(max_length=300, required=False, allow_blank=True, default="")
    birth_date = serializers.DateField(required=False, allow_null=True, default=None)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, default=Sex.OTHER)
    special_care = serializers.ListField(child=serializers.ChoiceField(choices=SpecialCare.choices),
                                         required=False, default=list, max_length=5)
    pets = serializers.IntegerField(required=False, default=0, min_value=0, max_value=20)

    def validate_birth_date(self, value):
        if value is not None and value > timezone.localdate():
            raise serializers.ValidationError("生年月日が未来です。 / Birth date is in the future.")
        return value


class QrPersonInput(serializers.Serializer):
    qr_token = StrictCharField(max_length=2000)
    special_care = serializers.ListField(child=serializers.ChoiceField(choices=SpecialCare.choices),
                                         required=False, default=list, max_length=5)
    pets = serializers.IntegerField(required=False, default=0, min_value=0, max_value=20)


class CheckInInput(serializers.Serializer):
    """Either a citizen ID QR or a manual entry, plus household members checked in together."""

    qr_token = StrictCharField(max_length=2000, required=False)
    person = PersonInput(required=False)
    special_care = serializers.ListField(child=serializers.ChoiceField(choices=SpecialCare.choices),
                                         required=False, default=list, max_length=5)
    pets = serializers.IntegerField(required=False, default=0, min_value=0, max_value=20)
    household = PersonInput(many=True, required=False, default=list, max_length=20)

    def validate(self, attrs):
        if bool(attrs.get("qr_token")) == bool(attrs.get("person")):
            raise serializers.ValidationError(
                "qr_token か person のどちらか一方を指定してください。 / Give either qr_token or person.")
        return attrs


class BatchItemInput(CheckInInput):
    client_id = StrictCharField(max_length=64)
    checked_in_at = serializers.DateTimeField()


class BatchInput(serializers.Serializer):
    items = BatchItemInput(many=True, max_length=500, allow_empty=False)


class CheckInOutput(serializers.Serializer):
    # Declared rather than a ModelSerializer: building fields from the model on every instantiation
    # was a measurable share of a check-in at reception-desk rates.
    id = serializers.IntegerField()
    household_id = serializers.UUIDField()
    source = serializers.ChoiceField(choices=CheckIn.Source.choices)
    name = serializers.CharField()
    kana = serializers.CharField()
    address = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    sex = serializers.ChoiceField(choices=Sex.choices)
    special_care = serializers.ListField(child=serializers.ChoiceField(choices=SpecialCare.choices))
    pets = serializers.IntegerField()
    checked_in_at = serializers.DateTimeField()
    checked_out_at = serializers.DateTimeField(allow_null=True)
    possible_duplicate_of = serializers.SerializerMethodField()
    client_item_id = serializers.CharField()

    def get_possible_duplicate_of(self, check_in) -> dict | None:
        other = check_in.possible_duplicate_of
        if other is None:
            return None
        return {"check_in_id": other.pk, "shelter_id": other.opening.shelter_id,
                "shelter_name": other.opening.shelter.name}


class CheckInResultOutput(serializers.Serializer):
    household_id = serializers.CharField()
    check_ins = CheckInOutput(many=True)
    already_checked_in = CheckInOutput(many=True)


class CheckOutInput(serializers.Serializer):
    check_in_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=50)


class EmergencyContactInput(serializers.Serializer):
    email = serializers.EmailField()
    name = StrictCharField(max_length=100, required=False, allow_blank=True, default="")


class EmergencyContactsInput(serializers.Serializer):
    contacts = EmergencyContactInput(many=True, max_length=5)


class EmergencyContactOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    name = serializers.CharField()
    confirmed = serializers.SerializerMethodField()

    def get_confirmed(self, contact) -> bool:
        return contact.confirmed_at is not None
