"""OpenAPI post-processing: every operation documents the common error shape for the statuses it
can answer with, so clients (and schemathesis) know what a 4xx looks like."""
from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "message_en", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code, e.g. validation_error."},
                "message": {"type": "string", "description": "Japanese message."},
                "message_en": {"type": "string", "description": "English message."},
                "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
        }
    },
}

_DESCRIPTIONS = {
    "400": "Invalid input (validation_error, malformed_json)",
    "401": "Missing, invalid, expired or foreign token (not_authenticated, invalid_token, invalid_credentials)",
    "403": "Not allowed (permission_denied, municipality_suspended)",
    "404": "Not found (not_found, unknown_host)",
    "405": "Method not allowed",
    "409": "Conflict with existing data or state (conflict, miniapp_disabled, consent_required)",
    "415": "Unsupported media type",
    "429": "Rate limited or locked out (rate_limited, account_locked)",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses = ["400", "401", "403", "404", "405", "429"]
            if method in ("post", "put", "patch"):
                statuses += ["409", "415"]
            for status in statuses:
                operation["responses"].setdefault(
                    status, {"description": _DESCRIPTIONS[status], "content": {"application/json": {"schema": ref}}})
    return result
