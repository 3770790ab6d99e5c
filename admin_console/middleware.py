"""Console-wide request and response handling for /console/ and /platform/ paths.

* Language: Japanese unless the staff member chose English with the language switch (a cookie).
  Browsers' Accept-Language is ignored here: a city office's shared tablet may be set to anything.
* Security headers: a strict Content-Security-Policy (no inline script or style: everything comes
  from /static/), a Permissions-Policy, and `Cache-Control: no-store` so that a shared tablet's back
  button never shows a signed-out user's page from the cache.
"""
from __future__ import annotations

from django.conf import settings
from django.utils import translation
from django.utils.cache import add_never_cache_headers

PERMISSIONS_POLICY = "geolocation=(), microphone=(), payment=(), usb=(), interest-cohort=()"


def console_language(request) -> str:
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


class ConsoleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.prefixes = tuple(settings.CONSOLE_PATH_PREFIXES)

    def __call__(self, request):
        if not request.path.startswith(self.prefixes):
            return self.get_response(request)
        language = console_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONSOLE_CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.headers["Content-Language"] = language
        add_never_cache_headers(response)
        return response
