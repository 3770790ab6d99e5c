"""Pagination used across the API."""
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination as _CursorPagination
from rest_framework.pagination import PageNumberPagination as _PageNumberPagination


class _StrictPageSize:
    """DRF silently falls back to the default on a malformed page_size; we say it is bad input."""

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise ValidationError({self.page_size_query_param: [
                f"1以上の整数です（最大{self.max_page_size}） / A positive integer (at most {self.max_page_size})."]})
        return super().get_page_size(request)


class PageNumberPagination(_StrictPageSize, _PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class NewestFirstCursorPagination(_StrictPageSize, _CursorPagination):
    """Stable under inserts; for feeds (inbox, boards)."""

    page_size = 30
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"
