"""Input and output serializers of the garbage calendar API."""
from __future__ import annotations

import re
from datetime import time as dtime, timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


from superapp.api.fields import StrictCharField

from ..engine import MAX_RANGE_DAYS
from ..models import Reminder
from ..workdays import booking_cutoff

DATE_FORMATS = ["%Y-%m-%d"]
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_ID = 2**63 - 1  # PostgreSQL bigint: larger ids would be a database error, not a 400


@extend_schema_field({"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "20:00"})
class HourMinuteField(serializers.Field):
    """A clock time as "HH:MM" (Asia/Tokyo), in and out."""

    default_error_messages = {"invalid": "時刻は HH:MM で指定してください / use HH:MM, e.g. 20:00"}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not _HHMM_RE.match(data):
            self.fail("invalid")
        return dtime(int(data[:2]), int(data[3:5]))

    def to_representation(self, value):
        return value.strftime("%H:%M")


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only (DRF would also take 0, 1, "yes", "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    """JSON integers only (DRF would also take "12", 12.0 and true)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class CategoryBriefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()


class CategoryOutput(CategoryBriefOutput):
    sublabel = serializers.CharField()
    description = serializers.CharField(help_text="HTML from the city's data (description.csv)")
    icon = serializers.CharField()


class AreaGroupOutput(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class AreaOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kana = serializers.CharField()
    group = AreaGroupOutput(allow_null=True)


class AreaRuleOutput(serializers.Serializer):
    category = CategoryBriefOutput()
    rule = serializers.CharField(source="cell", help_text="the 5374 day cell, e.g. 「月 木」")
    description = serializers.SerializerMethodField()
    description_en = serializers.SerializerMethodField()

    def get_description(self, rule) -> str:
        return rule.day_rule.describe()[0]

    def get_description_en(self, rule) -> str:
        return rule.day_rule.describe()[1]


class AreaDetailOutput(AreaOutput):
    rules = AreaRuleOutput(many=True)


class AreaSearchInput(serializers.Serializer):
    q = StrictCharField(required=False, allow_blank=True, max_length=100, default="")


class DateRangeInput(serializers.Serializer):
    """`from`/`to` (YYYY-MM-DD, Asia/Tokyo dates), inclusive, at most MAX_RANGE_DAYS days."""

    default_days_before = 0
    default_days_after = 31

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, input_formats=DATE_FORMATS)
        fields["to"] = serializers.DateField(required=False, input_formats=DATE_FORMATS)
        return fields

    def validate(self, attrs):
        today = timezone.localdate()
        start = attrs.get("from") or (today - timedelta(days=self.default_days_before))
        end = attrs.get("to") or (start + timedelta(days=self.default_days_after))
        if end < start:
            raise serializers.ValidationError({"to": ["to は from 以降の日付にしてください / 'to' must not be before 'from'"]})
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError({"to": [
                f"期間は{MAX_RANGE_DAYS}日以内にしてください / the range may cover at most {MAX_RANGE_DAYS} days"]})
        return {"start": start, "end": end}


class CalendarRangeInput(DateRangeInput):
    default_days_before = 31
    default_days_after = 365 + 31


class CollectionOutput(serializers.Serializer):
    date = serializers.DateField()
    category = CategoryBriefOutput()
    note = serializers.CharField(allow_null=True)


class NextCollectionOutput(CollectionOutput):
    days_until = serializers.SerializerMethodField()

    def get_days_until(self, collection) -> int:
        return (collection.date - self.context["today"]).days


class ItemOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kana = serializers.CharField()
    name_en = serializers.CharField()
    category = CategoryBriefOutput(allow_null=True)
    category_label = serializers.CharField(help_text="分別区分 as the data names it (also when it is not a calendar category)")
    notice = serializers.CharField()
    remarks = serializers.CharField()
    fee = serializers.CharField()
    index_label = serializers.CharField()


class ReminderInput(serializers.Serializer):
    area = StrictIntegerField(min_value=1, max_value=MAX_ID)
    categories = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=50,
                                       help_text="category ids; empty or missing: every category")
    timing = serializers.ChoiceField(choices=Reminder.Timing.choices, default=Reminder.Timing.EVENING_BEFORE)
    time = HourMinuteField(required=False,
                           help_text="HH:MM in Asia/Tokyo; default 20:00 (evening_before) or 06:30 (morning_of)")
    enabled = StrictBooleanField(default=True)


class ReminderOutput(serializers.Serializer):
    area = AreaOutput(allow_null=True)
    categories = serializers.SerializerMethodField()
    timing = serializers.CharField()
    time = HourMinuteField()
    enabled = serializers.BooleanField()

    def get_categories(self, reminder) -> list[dict]:
        categories = self.context["categories"]
        return CategoryBriefOutput([categories[i] for i in reminder.category_ids if i in categories], many=True).data


class PickupItemTypeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    fee = serializers.IntegerField(help_text="円 per item")


class PickupDaysInput(serializers.Serializer):
    area = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class PickupDayOutput(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    group = AreaGroupOutput()
    capacity = serializers.IntegerField()
    remaining = serializers.IntegerField()
    book_until = serializers.SerializerMethodField()
    bookable = serializers.SerializerMethodField()

    def get_book_until(self, day) -> str:
        return booking_cutoff(day.date).isoformat()

    def get_bookable(self, day) -> bool:
        today = self.context["today"]
        return day.date >= today and today <= booking_cutoff(day.date) and day.remaining > 0


class BookingLineInput(serializers.Serializer):
    item_type = StrictIntegerField(min_value=1, max_value=MAX_ID)
    quantity = StrictIntegerField(min_value=1, max_value=10)


class BookingInput(serializers.Serializer):
    pickup_day = StrictIntegerField(min_value=1, max_value=MAX_ID)
    area = StrictIntegerField(min_value=1, max_value=MAX_ID)
    items = serializers.ListField(child=BookingLineInput(), allow_empty=False, max_length=10)
    address = StrictCharField(max_length=200)
    phone = StrictCharField(max_length=20, required=False, allow_blank=True, default="")
    note = StrictCharField(max_length=200, required=False, allow_blank=True, default="")


class BookingItemOutput(serializers.Serializer):
    item_type = serializers.IntegerField(source="item_type_id")
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    fee_each = serializers.IntegerField()


class BookingPickupDayOutput(serializers.Serializer):
    id = serializers.IntegerField()
    date = serializers.DateField()
    group = AreaGroupOutput()


class BookingOutput(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="受付番号: quote it when calling the city")
    status = serializers.CharField()
    pickup_day = BookingPickupDayOutput()
    area_name = serializers.CharField()
    address = serializers.CharField()
    phone = serializers.CharField()
    note = serializers.CharField()
    items = BookingItemOutput(many=True)
    item_count = serializers.IntegerField()
    total_fee = serializers.IntegerField()
    cancel_until = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)

    def get_cancel_until(self, booking) -> str:
        return booking_cutoff(booking.pickup_day.date).isoformat()
