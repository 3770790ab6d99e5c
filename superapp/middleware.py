"""Routes each request to its municipality's schema by host name.

Differences from django-tenants' TenantMainMiddleware: the host → tenant lookup is cached per
process, the bare platform host serves the public schema, and unknown or suspended hosts get the
API's JSON error shape instead of an HTML page.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django_tenants.middleware.main import TenantMainMiddleware

from superapp.api.errors import error_response
from tenants import hostcache


class MunicipalityMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return error_response("invalid_host", 400)

        request.tenant = None
        if hostname == settings.PLATFORM_DOMAIN:
            self.setup_url_routing(request, force_public=True)
            return None

        municipality = hostcache.municipality_for_host(hostname)
        if municipality is None:
            return error_response("unknown_host", 404)
        if not municipality.is_active:
            return error_response("municipality_suspended", 403)

        municipality.domain_url = hostname
        request.tenant = municipality
        connection.set_tenant(municipality)
        self.setup_url_routing(request)
        return None
