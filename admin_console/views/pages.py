"""Console pages of a municipality: home, dashboard, districts, each user's account settings."""
from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import selectors, services
from accounts.models import District
from superapp.api.errors import ApiError

from ..access import navigation, section_required
from ..dashboard import build_dashboard
from ..forms import DistrictForm, add_api_errors
from . import auth
from .realms import CONSOLE


@section_required("home")
@require_http_methods(["GET"])
def home(request):
    tiles = [item for item in navigation(request.user) if item.section.key != "home"]
    context = {"tiles": tiles, "roles": sorted(selectors.user_role_names(request.user))}
    return render(request, "console/home.html", context)


@section_required("dashboard")
@require_http_methods(["GET"])
def dashboard(request):
    widgets = build_dashboard(user=request.user, municipality=request.tenant)
    context = {
        "stats": [w for w in widgets if w.widget.kind == "stat"],
        "charts": [w for w in widgets if w.widget.kind == "chart"],
        "privacy_threshold": request.tenant.setting("privacy_threshold"),
    }
    return render(request, "console/dashboard.html", context)


@section_required("districts")
@require_http_methods(["GET", "POST"])
def districts(request):
    form = DistrictForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                district = services.district_create(acting_user=request.user, **form.cleaned_data)
            except ApiError as exc:
                add_api_errors(form, exc)
            else:
                messages.success(request, _("校区「%(name)s」を追加しました。") % {"name": district.name})
                if not request.htmx:
                    return HttpResponseRedirect(reverse("console:districts"))
                form = DistrictForm()  # htmx: answer with the fresh table and an empty form
        status = 400 if form.errors else 200
    context = {"form": form, "districts": selectors.district_list()}
    template = "console/districts/_panel.html" if request.htmx else "console/districts/list.html"
    return render(request, template, context, status=status)


@section_required("districts")
@require_http_methods(["GET", "POST"])
def district_edit(request, district_id: int):
    district = District.objects.filter(pk=district_id).first()
    if district is None:
        raise Http404
    initial = {"name": district.name, "kana": district.kana, "sort_order": district.sort_order}
    form = DistrictForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.district_update(district=district, acting_user=request.user, **form.cleaned_data)
        except ApiError as exc:
            add_api_errors(form, exc)
        else:
            messages.success(request, _("校区「%(name)s」を更新しました。") % {"name": district.name})
            return HttpResponseRedirect(reverse("console:districts"))
    status = 400 if form.errors else 200
    return render(request, "console/districts/edit.html", {"form": form, "district": district},
                  status=status)


@section_required("account")
@require_http_methods(["GET", "POST"])
def account(request):
    return auth.account_view(request, CONSOLE)
