"""Staff management for municipality admins: list, invite by email, roles, deactivate; and the
invited staff member's one-time set-password page."""
from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from superapp.api.errors import ApiError, html_error_response
from superapp.api.utils import client_ip

from ..access import section_required
from ..forms import SetPasswordForm, StaffInviteForm, StaffRolesForm, add_api_errors

PAGE_SIZE = 50
INVITE_URL_TOKEN = "set"
INVITE_SESSION_KEY = "console_invite_token"


def _link_builder(request):
    def build(uidb64: str, token: str) -> str:
        return request.build_absolute_uri(reverse("console:set_password", args=[uidb64, token]))

    return build


@section_required("staff")
@require_http_methods(["GET"])
def staff_list(request):
    page = Paginator(selectors.staff_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "console/staff/list.html", {"page": page})


@section_required("staff")
@require_http_methods(["GET", "POST"])
def staff_invite(request):
    form = StaffInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.staff_invite(email=form.cleaned_data["email"], roles=form.cleaned_data["roles"],
                                         display_name=form.cleaned_data["display_name"], acting_user=request.user,
                                         site_name=request.tenant.name, build_link=_link_builder(request))
        except ApiError as exc:
            add_api_errors(form, exc)
        else:
            messages.success(request, _("%(email)s に招待メールを送りました。") % {"email": user.email})
            return HttpResponseRedirect(reverse("console:staff_detail", args=[user.pk]))
    status = 400 if form.errors else 200
    return render(request, "console/staff/invite.html", {"form": form}, status=status)


@section_required("staff")
@require_http_methods(["GET", "POST"])
def staff_detail(request, staff_id: int):
    staff = selectors.access_staff(id=staff_id)
    current_roles = sorted(group.name for group in staff.groups.all())
    form = StaffRolesForm(request.POST or None, initial={"roles": current_roles})
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_roles_update(staff=staff, roles=form.cleaned_data["roles"], acting_user=request.user)
        except ApiError as exc:
            add_api_errors(form, exc)
        else:
            messages.success(request, _("役割を更新しました。"))
            return HttpResponseRedirect(reverse("console:staff_detail", args=[staff.pk]))
    status = 400 if form.errors else 200
    context = {"staff": staff, "form": form, "roles": current_roles,
               "totp_on": bool(getattr(staff, "totp", None) and staff.totp.is_confirmed),
               "is_self": staff.pk == request.user.pk}
    return render(request, "console/staff/detail.html", context, status=status)


def _staff_action(request, staff_id: int, action):
    staff = selectors.access_staff(id=staff_id)
    try:
        message = action(staff)
    except ApiError as exc:
        for field_messages in exc.fields.values() or [[f"{exc.message} / {exc.message_en}"]]:
            for text in field_messages:
                messages.error(request, text)
    else:
        messages.success(request, message)
    return HttpResponseRedirect(reverse("console:staff_detail", args=[staff.pk]))


@section_required("staff")
@require_POST
def staff_deactivate(request, staff_id: int):
    def action(staff):
        revoked = services.staff_deactivate(staff=staff, acting_user=request.user)
        return _("%(name)s を無効にしました（端末トークン %(n)d 件を失効）。") % {"name": staff, "n": revoked}

    return _staff_action(request, staff_id, action)


@section_required("staff")
@require_POST
def staff_reactivate(request, staff_id: int):
    def action(staff):
        services.staff_reactivate(staff=staff, acting_user=request.user)
        return _("%(name)s を有効に戻しました。") % {"name": staff}

    return _staff_action(request, staff_id, action)


@section_required("staff")
@require_POST
def staff_resend_invite(request, staff_id: int):
    def action(staff):
        services.staff_invite_resend(staff=staff, acting_user=request.user, site_name=request.tenant.name,
                                     build_link=_link_builder(request))
        return _("%(email)s に招待メールを再送しました。以前のリンクは使えなくなりました。") % {"email": staff.email}

    return _staff_action(request, staff_id, action)


@section_required("staff")
@require_POST
def staff_reset_2fa(request, staff_id: int):
    def action(staff):
        services.staff_totp_reset(staff=staff, acting_user=request.user)
        return _("%(name)s の2段階認証を解除しました。") % {"name": staff}

    return _staff_action(request, staff_id, action)


@sensitive_post_parameters("password", "password_again")
@never_cache
@require_http_methods(["GET", "POST"])
def set_password(request, uidb64: str, token: str):
    """The link from the invitation email (no sign-in): choose a password, once.

    As in Django's password reset, the token moves from the URL into the session and the browser is
    redirected to a URL without it, so it never reaches a Referer header or an access log again."""
    if token != INVITE_URL_TOKEN:
        try:
            services.staff_invite_user(uidb64=uidb64, token=token)
        except ApiError as exc:
            return html_error_response(request, exc.code, exc.status_code)
        request.session[INVITE_SESSION_KEY] = token
        return HttpResponseRedirect(reverse("console:set_password", args=[uidb64, INVITE_URL_TOKEN]))
    try:
        user = services.staff_invite_user(uidb64=uidb64, token=request.session.get(INVITE_SESSION_KEY, ""))
    except ApiError as exc:
        return html_error_response(request, exc.code, exc.status_code)
    form = SetPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_password_set(user=user, password=form.cleaned_data["password"],
                                        client_ip=client_ip(request))
        except ApiError as exc:
            add_api_errors(form, exc)
        else:
            request.session.pop(INVITE_SESSION_KEY, None)
            messages.success(request, _("パスワードを設定しました。ログインしてください。"))
            return HttpResponseRedirect(reverse("console:login"))
    status = 400 if form.errors else 200
    return render(request, "console/staff/set_password.html", {"form": form, "invitee": user}, status=status)
