"""OpenAPI description of the bearer-token scheme (drf-spectacular extension)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Opaque token from POST /api/v1/residents/ (residents) or /api/v1/auth/token/ (staff)."}
