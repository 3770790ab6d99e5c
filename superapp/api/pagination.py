"""Pagination used across the API."""
from rest_framework.pagination import CursorPagination as _CursorPagination
from rest_framework.pagination import PageNumberPagination as _PageNumberPagination


class PageNumberPagination(_PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class NewestFirstCursorPagination(_CursorPagination):
    """Stable under inserts; for feeds (inbox, boards)."""

    page_size = 30
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"
