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
        # The published schema's maxLength counts what the client sent; DRF would measure it only
        # after trimming whitespace (including U+0085 and other Unicode spaces), accepting more.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: DRF's BooleanField also takes "yes", "on", 1 or "0", which hides a
    client's bug behind a guess (and a guess that publishes something must not be made)."""

    default_error_messages = {"not_a_boolean": "true か false で指定してください。 / Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("not_a_boolean")
        return data
