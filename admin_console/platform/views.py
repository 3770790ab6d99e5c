"""The platform console at /platform/ on the bare platform host: municipalities, for operators."""
from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from superapp.api.errors import ApiError
from superapp.api.utils import client_ip

from ..access import session_is_fresh
from ..forms import add_api_errors
from ..views import auth
from ..views.realms import PLATFORM, platform_operator
from . import selectors, services
from .forms import OnboardForm


def operator_required(view):
    """Signed-in platform operator with a fresh session; anyone else signed in here gets 403."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        login_url = reverse("platform:login")
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url)
        if not session_is_fresh(request):
            logout(request)
            request.session[auth.NOTICE_KEY] = "timeout"
            return redirect_to_login(request.get_full_path(), login_url)
        if not platform_operator(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.platform_operator_only = True
    return wrapped


@operator_required
@require_http_methods(["GET"])
def home(request):
    return render(request, "platform/home.html", {"rows": selectors.municipality_overview()})


@operator_required
@require_http_methods(["GET", "POST"])
def onboard(request):
    form = OnboardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.platform_municipality_onboard(acting_user=request.user, client_ip=client_ip(request),
                                                            **form.cleaned_data)
        except ApiError as exc:
            add_api_errors(form, exc)
        else:
            messages.success(request, result.message if request.LANGUAGE_CODE == "ja" else result.message_en)
            if result.created:
                messages.info(request, _("%(email)s にパスワード設定用のリンクを送りました。")
                              % {"email": form.cleaned_data["admin_email"]})
            return HttpResponseRedirect(reverse("platform:home"))
    status = 400 if form.errors else 200
    return render(request, "platform/onboard.html", {"form": form}, status=status)


def _set_status(request, code: str, service, done_message: str):
    try:
        municipality = service(code=code, acting_user=request.user, client_ip=client_ip(request))
    except ApiError as exc:
        if exc.status_code == 404:
            raise Http404 from None
        messages.error(request, f"{exc.message} / {exc.message_en}")
    else:
        messages.success(request, done_message % {"name": municipality.name})
    return HttpResponseRedirect(reverse("platform:home"))


@operator_required
@require_POST
def suspend(request, code: str):
    return _set_status(request, code, services.platform_municipality_suspend,
                       _("%(name)s を停止しました。住民アプリと管理画面は再開まで使えません。"))


@operator_required
@require_POST
def resume(request, code: str):
    return _set_status(request, code, services.platform_municipality_resume, _("%(name)s を再開しました。"))


@operator_required
@require_http_methods(["GET", "POST"])
def account(request):
    return auth.account_view(request, PLATFORM)
