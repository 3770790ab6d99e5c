"""Discovery of every tenant API operation from the URL conf, for the cross-tenant battery.

New endpoints are picked up automatically: nothing here lists routes by hand."""
from __future__ import annotations

import re
from dataclasses import dataclass

from drf_spectacular.generators import EndpointEnumerator

_PARAM_RE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    path_template: str

    def path(self, value: str = "1") -> str:
        return _PARAM_RE.sub(value, self.path_template)

    def __str__(self) -> str:
        return f"{self.method} {self.path_template}"


def tenant_api_operations(prefix: str = "/api/v1/") -> list[Operation]:
    enumerator = EndpointEnumerator(urlconf="superapp.urls_tenant")
    operations = {
        Operation(method.upper(), path)
        for path, _regex, method, _callback in enumerator.get_api_endpoints()
        if path.startswith(prefix)
    }
    return sorted(operations, key=lambda op: (op.path_template, op.method))
