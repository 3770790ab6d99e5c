"""Sign-in, two-factor step, sign-out and each user's two-factor settings, for both consoles.

The municipality console (/console/, staff of that municipality's schema) and the platform console
(/platform/, operators in the public schema) share these views through a `Realm`; the lockout,
password check and TOTP check are the same services the API uses.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import segno
from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.models import User
from superapp.api.errors import ApiError
from superapp.api.utils import client_ip

from ..access import start_console_session
from ..forms import LoginForm, TotpCodeForm, add_api_errors

PENDING_KEY = "console_2fa_pending"
PENDING_SECONDS = 300  # the password step is valid this long for the code step
NOTICE_KEY = "console_notice"


@dataclass(frozen=True)
class Realm:
    namespace: str  # URL namespace: "console" or "platform"
    base_template: str  # the page frame (header, navigation) the shared templates extend
    login_action: str  # audit action of a successful sign-in
    may_sign_in: Callable[[User], bool]
    issuer: Callable[[object], str]  # TOTP issuer shown in the authenticator app

    def url(self, name: str, *args) -> str:
        return reverse(f"{self.namespace}:{name}", args=args)


def _safe_next(request, candidate: str | None, realm: Realm) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return realm.url("home")


def _complete_login(request, realm: Realm, user: User, next_url: str) -> HttpResponseRedirect:
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")  # also a new session key
    start_console_session(request)
    services.audit_record(actor=user, action=realm.login_action, ip_address=client_ip(request))
    return HttpResponseRedirect(_safe_next(request, next_url, realm))


def _notice(request) -> str | None:
    notice = request.session.get(NOTICE_KEY)
    if notice is None:
        return None
    del request.session[NOTICE_KEY]
    return {
        "timeout": _("一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"),
        "2fa_expired": _("確認コードの入力時間が過ぎました。もう一度ログインしてください。"),
        "signed_out": _("ログアウトしました。"),
    }.get(notice)


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request, realm: Realm):
    if request.method == "GET" and request.user.is_authenticated and realm.may_sign_in(request.user):
        return HttpResponseRedirect(realm.url("home"))
    form = LoginForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next", "")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = services.staff_authenticate(username=form.cleaned_data["username"],
                                                   password=form.cleaned_data["password"],
                                                   client_ip=client_ip(request))
            except ApiError as exc:
                add_api_errors(form, exc)
                status = exc.status_code if exc.code == "account_locked" else 400
            else:
                if not realm.may_sign_in(user):
                    form.add_error(None, _("このアカウントにはこの管理画面を使う権限がありません。管理者に確認してください。"))
                    status = 403
                elif selectors.staff_has_totp(user):
                    request.session.cycle_key()
                    request.session[PENDING_KEY] = {"user_id": user.pk, "at": int(time.time()), "next": next_url}
                    return HttpResponseRedirect(realm.url("login_verify"))
                else:
                    return _complete_login(request, realm, user, next_url)
    context = {"form": form, "next": next_url, "notice": _notice(request), "realm": realm}
    return render(request, "console/login.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def login_verify_view(request, realm: Realm):
    pending = request.session.get(PENDING_KEY)
    user = None
    if pending and time.time() - pending.get("at", 0) <= PENDING_SECONDS:
        user = User.objects.filter(pk=pending["user_id"], is_active=True, kind=User.Kind.STAFF).first()
    if user is None:
        request.session.pop(PENDING_KEY, None)
        request.session[NOTICE_KEY] = "2fa_expired"
        return HttpResponseRedirect(realm.url("login"))
    form = TotpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.staff_totp_verify_login(user=user, code=form.cleaned_data["code"],
                                                 client_ip=client_ip(request))
            except ApiError as exc:
                add_api_errors(form, exc)
                if exc.code == "account_locked":
                    del request.session[PENDING_KEY]
                    status = 429
            else:
                del request.session[PENDING_KEY]
                return _complete_login(request, realm, user, pending.get("next", ""))
    return render(request, "console/login_verify.html", {"form": form, "realm": realm}, status=status)


@require_POST
def logout_view(request, realm: Realm):
    logout(request)
    request.session[NOTICE_KEY] = "signed_out"
    return HttpResponseRedirect(realm.url("login"))


def _qr_svg(uri: str) -> str:
    # segno writes only attributes (no inline style), so the SVG passes the console's CSP.
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff",
                                                title=_("認証アプリで読み取る QR コード"))
    return mark_safe(svg)  # generated by segno from our own URI, not from user input


def account_view(request, realm: Realm):
    """Two-factor settings of the signed-in user: enrol (QR code), confirm, turn off."""
    user = request.user
    device = selectors.staff_totp_device(user)
    form = TotpCodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "begin":
            try:
                services.staff_totp_begin(user=user)
            except ApiError as exc:
                messages.error(request, f"{exc.message} / {exc.message_en}")
            return HttpResponseRedirect(realm.url("account"))
        if action in ("confirm", "disable") and form.is_valid():
            try:
                if action == "confirm":
                    services.staff_totp_confirm(user=user, code=form.cleaned_data["code"], client_ip=client_ip(request))
                    messages.success(request, _("2段階認証を有効にしました。次回のログインから確認コードが必要です。"))
                else:
                    services.staff_totp_disable(user=user, code=form.cleaned_data["code"], client_ip=client_ip(request))
                    messages.success(request, _("2段階認証を無効にしました。"))
            except ApiError as exc:
                add_api_errors(form, exc)
            else:
                return HttpResponseRedirect(realm.url("account"))
        status = 400
    context = {"device": device, "form": form, "realm": realm}
    if device is not None and not device.is_confirmed:
        uri = services.staff_totp_provisioning_uri(device=device, issuer=realm.issuer(request))
        context.update(qr_svg=_qr_svg(uri), secret=device.secret)
    return render(request, "console/account.html", context, status=status)
