"""Audit log viewer for municipality admins: filter by staff member, action and dates; paginated."""
from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts import selectors

from ..access import section_required
from ..forms import AuditFilterForm

PAGE_SIZE = 50
DATA_PREVIEW_CHARS = 300


def _data_preview(data) -> str:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str) if data else ""
    return text if len(text) <= DATA_PREVIEW_CHARS else text[: DATA_PREVIEW_CHARS - 1] + "…"


@section_required("audit")
@require_http_methods(["GET"])
def audit_log(request):
    form = AuditFilterForm(request.GET or None, actors=list(selectors.staff_choices()))
    filters = {}
    status = 200
    if form.is_bound:
        if form.is_valid():
            filters = {
                "actor_id": form.cleaned_data["actor"],
                "action": form.cleaned_data["action"].strip(),
                "date_from": form.cleaned_data["date_from"],
                "date_to": form.cleaned_data["date_to"],
            }
        else:
            status = 400
    page = Paginator(selectors.audit_events(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(event, _data_preview(event.data)) for event in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "actions": selectors.audit_action_names(),
               "query": query.urlencode()}
    template = "console/audit/_results.html" if request.htmx and request.htmx.target == "audit-results" \
        else "console/audit/list.html"
    return render(request, template, context, status=status)
