"""Pagination used across the API. `page` and `page_size` must be one positive integer each when
given: DRF's defaults silently ignore junk (`page_size=abc`) and take the last of repeated values."""
from rest_framework import serializers
from rest_framework.pagination import CursorPagination as _CursorPagination
from rest_framework.pagination import PageNumberPagination as _PageNumberPagination


def check_positive_integers(request, *names: str) -> None:
    for name in names:
        values = request.query_params.getlist(name)
        if len(values) > 1 or any(not (v.isascii() and v.isdigit() and int(v) > 0) for v in values):
            raise serializers.ValidationError({name: ["1以上の整数を1つ指定してください。 / Must be one positive integer."]})


class PageNumberPagination(_PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset, request, view=None):
        check_positive_integers(request, self.page_query_param, self.page_size_query_param)
        return super().paginate_queryset(queryset, request, view)


class NewestFirstCursorPagination(_CursorPagination):
    """Stable under inserts; for feeds (inbox, boards)."""

    page_size = 30
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"

    def paginate_queryset(self, queryset, request, view=None):
        check_positive_integers(request, self.page_size_query_param)
        return super().paginate_queryset(queryset, request, view)
