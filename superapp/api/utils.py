"""Small helpers shared by API views."""
from __future__ import annotations

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


def client_ip(request: Request) -> str:
    """The client address as DRF's throttles see it (honours NUM_PROXIES)."""
    return _IP_RESOLVER.get_ident(request)


class _IdentResolver(SimpleRateThrottle):
    rate = "1/s"

    def get_cache_key(self, request, view):  # pragma: no cover - never used as a throttle
        return None


_IP_RESOLVER = _IdentResolver()


class ClientAddressThrottle(SimpleRateThrottle):
    """Per-client-address rate limit on a named scope; the cache key is tenant-prefixed by the cache."""

    def get_rate(self):
        # Read at request time (DRF's class attribute is frozen at import), so settings can change it.
        from rest_framework.settings import api_settings

        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ResidentSignupThrottle(ClientAddressThrottle):
    scope = "resident_signup"


class StaffTokenThrottle(ClientAddressThrottle):
    scope = "staff_token"





def reject_repeated_query_params(request, *names: str) -> None:
    """`?from=a&from=b` is ambiguous: DRF's serializers would silently take one of them."""
    from rest_framework import serializers

    repeated = [name for name in names if len(request.query_params.getlist(name)) > 1]
    if repeated:
        raise serializers.ValidationError({name: ["1つだけ指定してください。 / Give it only once."] for name in repeated})
