"""Console pages for announcements: list, publish, edit, withdraw. Same services as the API; guarded
by the console section "announcements", whose roles are the manifest's staff_roles (a test checks)."""
from __future__ import annotations

from django import forms
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import District
from admin_console.access import section_required
from superapp.api.errors import ApiError

from .. import selectors, services
from ..models import Announcement

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class AnnouncementForm(forms.Form):
    title = forms.CharField(label="件名 / Title", max_length=120)
    title_en = forms.CharField(label="件名（英語） / Title in English", max_length=200, required=False)
    body = forms.CharField(label="本文 / Body", max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))
    body_en = forms.CharField(label="本文（英語） / Body in English", max_length=10000, required=False,
                              widget=forms.Textarea(attrs={"rows": 4}))
    starts_at = forms.DateTimeField(label="掲載開始 / From", widget=_DATETIME)
    ends_at = forms.DateTimeField(label="掲載終了 / Until", widget=_DATETIME)
    audience = forms.ChoiceField(label="対象 / Audience", choices=Announcement.Audience.choices)
    district = forms.ModelChoiceField(label="校区 / District", queryset=District.objects.all(), required=False)
    interest = forms.CharField(label="関心タグ / Interest tag", max_length=32, required=False)
    show_as_popup = forms.BooleanField(label="ポップアップで表示 / Show as a popup", required=False)


def _apply_errors(form: forms.Form, exc: ApiError) -> None:
    if not exc.fields:
        form.add_error(None, f"{exc.message} / {exc.message_en}")
    for field, messages in exc.fields.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def _get(announcement_id: int) -> Announcement:
    try:
        return selectors.access_announcement_for_staff(announcement_id=announcement_id)
    except ApiError:
        raise Http404 from None


@section_required("announcements")
@require_http_methods(["GET"])
def index(request):
    now = timezone.now()
    rows = list(selectors.announcements_for_staff()[:200])
    groups = [
        ("掲載中 / Showing now", [a for a in rows if a.starts_at <= now < a.ends_at]),
        ("予約 / Scheduled", [a for a in rows if a.starts_at > now]),
        ("終了 / Ended", [a for a in rows if a.ends_at <= now]),
    ]
    return render(request, "announcements/console/index.html", {"groups": groups})


@section_required("announcements")
@require_http_methods(["GET", "POST"])
def edit(request, announcement_id: int | None = None):
    announcement = _get(announcement_id) if announcement_id is not None else None
    initial = {"audience": Announcement.Audience.EVERYONE, "starts_at": timezone.localtime().replace(second=0,
                                                                                                  microsecond=0)}
    if announcement is not None:
        initial = {name: getattr(announcement, name) for name in AnnouncementForm.base_fields}
        initial["starts_at"] = timezone.localtime(announcement.starts_at)
        initial["ends_at"] = timezone.localtime(announcement.ends_at)
    form = AnnouncementForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if announcement is None:
                services.announcement_create(acting_user=request.user, **form.cleaned_data)
            else:
                services.announcement_update(announcement=announcement, acting_user=request.user, **form.cleaned_data)
        except ApiError as exc:
            _apply_errors(form, exc)
        else:
            return HttpResponseRedirect(reverse("announcements_console:index"))
    return render(request, "announcements/console/edit.html", {"form": form, "announcement": announcement},
                  status=400 if form.errors else 200)


@section_required("announcements")
@require_POST
def delete(request, announcement_id: int):
    services.announcement_delete(announcement=_get(announcement_id), acting_user=request.user)
    return HttpResponseRedirect(reverse("announcements_console:index"))

