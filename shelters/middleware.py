"""The two reads residents hammer during a disaster, the public shelter list and the active alerts,
answered right after tenant routing and SecurityMiddleware.

An anonymous GET of a pre-rendered JSON payload needs nothing the rest of the stack does (static
files, sessions, locale, CSRF, authentication, messages, htmx, the console's headers), and under a
surge that stack cost more than the answer itself. Anything else (a token to check, another method,
another path, the platform host) carries on down the stack unchanged, and the view falls back to
DRF exactly as before.
"""
from __future__ import annotations

from django.conf import settings
from django.urls import NoReverseMatch, reverse


class PublicReadsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._views: dict | None = None

    def views(self) -> dict:
        if self._views is None:  # the URL conf is complete only once every app is loaded
            from .api.views import active_alerts_view, shelter_list_view

            try:
                urlconf = settings.ROOT_URLCONF
                self._views = {reverse("shelter-list", urlconf=urlconf): shelter_list_view,
                               reverse("alerts-active", urlconf=urlconf): active_alerts_view}
            except NoReverseMatch:  # a URL conf without these reads (bench.floor): nothing to answer
                self._views = {}
        return self._views

    def __call__(self, request):
        if getattr(request, "tenant", None) is not None:  # a municipality's host, not the platform's
            view = self.views().get(request.path_info)
            if view is not None and request.method == "GET" and "HTTP_AUTHORIZATION" not in request.META:
                response = view(request)
                response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)  # as the stack would
                return response
        return self.get_response(request)
