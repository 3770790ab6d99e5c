"""Path converters of the attendance API."""
from django.urls import register_converter


class IdConverter:
    """Positive ids that fit in a bigint; longer digit strings are a 404, not a database error."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "attendance_id")
