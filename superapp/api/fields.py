"""Serializer fields stricter than DRF's defaults."""
from __future__ import annotations

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of coercing them to text: a client
    sending `"nickname": 0` has a bug we should tell it about."""

    default_error_messages = {"not_a_string": "文字列で指定してください。 / Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)
