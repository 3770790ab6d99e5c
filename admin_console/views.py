"""Staff console (server-rendered). Views validate, call the same services as the API, render."""
from __future__ import annotations

from django.contrib.auth import login, logout
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.models import User
from accounts.roles import Role
from superapp.api.errors import ApiError
from superapp.api.utils import client_ip

from .access import staff_required
from .forms import DistrictForm, LoginForm


def _add_api_errors(form, exc: ApiError) -> None:
    if not exc.fields:
        form.add_error(None, f"{exc.message} / {exc.message_en}")
    for field, messages in exc.fields.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


@require_http_methods(["GET", "POST"])
def login_view(request):
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.staff_authenticate(username=form.cleaned_data["username"],
                                               password=form.cleaned_data["password"], client_ip=client_ip(request))
        except ApiError as exc:
            _add_api_errors(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            services.audit_record(actor=user, action="staff.console_login", ip_address=client_ip(request))
            next_url = request.POST.get("next") or request.GET.get("next") or reverse("console:home")
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                next_url = reverse("console:home")
            return HttpResponseRedirect(next_url)
    status = 400 if form.errors else 200
    return render(request, "console/login.html", {"form": form, "next": request.GET.get("next", "")}, status=status)


@require_POST
def logout_view(request):
    logout(request)
    return HttpResponseRedirect(reverse("console:login"))


@staff_required()
def home(request):
    context = {
        "residents": User.objects.filter(kind=User.Kind.RESIDENT, is_active=True).count(),
        "districts": selectors.district_list().count(),
        "roles": sorted(selectors.user_role_names(request.user)),
    }
    return render(request, "console/home.html", context)


@staff_required(Role.MUNICIPALITY_ADMIN)
def districts(request):
    form = DistrictForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.district_create(acting_user=request.user, **form.cleaned_data)
        except ApiError as exc:
            _add_api_errors(form, exc)
        else:
            return HttpResponseRedirect(reverse("console:districts"))
    status = 400 if form.errors else 200
    return render(request, "console/districts.html",
                  {"form": form, "districts": selectors.district_list()}, status=status)
