"""Console pages for feedback: the inbox and answering one. Same selectors and services as the API;
guarded by the console section "feedback", whose roles are the manifest's staff_roles (a test checks)."""
from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from admin_console.access import section_required
from superapp.api.errors import ApiError

from .. import selectors, services
from ..models import Feedback



class ReplyForm(forms.Form):
    text = forms.CharField(label="回答 / Answer", max_length=4000, widget=forms.Textarea(attrs={"rows": 8}))


@section_required("feedback")
@require_http_methods(["GET"])
def inbox(request):
    status = request.GET.get("status") or ""
    category = request.GET.get("category") or ""
    if status not in ("", *Feedback.Status.values) or category not in ("", *Feedback.Category.values):
        status, category = "", ""
    rows = selectors.feedback_inbox(status=status or None, category=category or None)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "feedback/console/inbox.html", {
        "page": page, "status": status, "category": category, "counts": selectors.feedback_counts(),
        "statuses": Feedback.Status.choices, "categories": Feedback.Category.choices,
    })


@section_required("feedback")
@require_http_methods(["GET", "POST"])
def detail(request, feedback_id: int):
    try:
        feedback = selectors.access_feedback_for_staff(feedback_id=feedback_id)
    except ApiError:
        raise Http404 from None
    form = ReplyForm(request.POST or None, initial={"text": feedback.reply})
    if request.method == "POST" and form.is_valid():
        try:
            services.feedback_reply(feedback=feedback, text=form.cleaned_data["text"], acting_user=request.user)
        except ApiError as exc:
            for field, messages in exc.fields.items():
                for message in messages:
                    form.add_error("text" if field == "text" else None, message)
        else:
            return HttpResponseRedirect(reverse("feedback_console:detail", args=[feedback.pk]) + "?answered=1")
    return render(request, "feedback/console/detail.html",
                  {"feedback": feedback, "form": form, "answered": request.GET.get("answered") == "1"},
                  status=400 if form.errors else 200)
