"""Project-level views: health probe."""
from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .api.errors import error_payload, error_response
from .health import health_report


@never_cache
def healthz(request):
    if request.method not in ("GET", "HEAD"):
        return error_response("method_not_allowed", 405)
    ok, checks = health_report()
    if ok:
        return JsonResponse({"status": "ok", "checks": checks}, json_dumps_params={"ensure_ascii": False})
    down = [name for name, result in checks.items() if result["status"] != "ok"]
    payload = error_payload(
        "service_unavailable",
        message=f"一部のサービスが停止しています: {', '.join(down)}",
        message_en=f"Some services are down: {', '.join(down)}",
        fields={name: [checks[name]["reason"]] for name in down},
    )
    payload.update(status="degraded", checks=checks)
    return JsonResponse(payload, status=503, json_dumps_params={"ensure_ascii": False})
