"""Staff console pages for push notifications (お知らせ配信): the list with delivery figures, the
composer with the live audience size, a confirmation step before a send to everyone, scheduling,
and each notification's delivery stats, refreshed while it is being sent; cancelling a scheduled one.

Section "notifications" (senders and analysts) reads; "notifications_send" (senders) writes. Which
topics a sender may use comes from notifications/roles.py. The pages call the same services and
selectors as the staff API (`notification_create`, `notification_cancel`, `audience_preview`,
`notification_stats`)."""
from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import District
from admin_console.access import in_language, section_required
from admin_console.forms import ConsoleForm
from superapp.api.errors import ApiError

from . import selectors, services
from .models import Notification, Topic
from .roles import may_send, sendable_topics

PAGE_SIZE = 30
AGE_BANDS = ("0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+", "65+")
AUDIENCE_CRITERIA = ("districts", "interests", "age_bands", "miniapp")
# Where the service's error fields (the API's names) land on the form.
_ERROR_FIELDS = {"audience.districts": "districts", "audience.interests": "interests",
                 "audience.age_bands": "age_bands", "audience.miniapp": "miniapp", "audience.everyone": "audience",
                 "audience.non_field_errors": "audience", "audience.user_ids": "audience"}
_TAG_SPLIT = re.compile(r"[\s,、，]+")


def age_band_label(band: str) -> str:
    if band.endswith("+"):
        return _("%(low)s歳以上") % {"low": band[:-1]}
    low, _sep, high = band.partition("-")
    return _("%(low)s〜%(high)s歳") % {"low": low, "high": high}


# --- forms --------------------------------------------------------------------------------------
class AudienceForm(ConsoleForm):
    """Topic and audience: all the audience-size fragment needs, and the first part of the composer."""

    topic = forms.ChoiceField(label=gettext_lazy("種別"))
    audience = forms.ChoiceField(label=gettext_lazy("配信範囲"), widget=forms.RadioSelect, initial="filtered",
                                 choices=[("everyone", gettext_lazy("全員")),
                                          ("filtered", gettext_lazy("条件で絞り込む（すべての条件に当てはまる住民）"))])
    districts = forms.TypedMultipleChoiceField(label=gettext_lazy("校区"), coerce=int, required=False,
                                               widget=forms.CheckboxSelectMultiple)
    interests = forms.CharField(label=gettext_lazy("関心タグ"), max_length=400, required=False,
                                help_text=gettext_lazy("空白または読点で区切って複数指定できます（どれかに当てはまる住民）。"),
                                widget=forms.TextInput(attrs={"list": "interest-tags", "autocomplete": "off"}))
    age_bands = forms.MultipleChoiceField(label=gettext_lazy("年代（今年の誕生日を迎えた年齢）"), required=False,
                                          widget=forms.CheckboxSelectMultiple)
    miniapp = forms.ChoiceField(label=gettext_lazy("ミニアプリの利用者"), required=False,
                                help_text=gettext_lazy("ホーム画面にこのミニアプリを置いている住民。"))

    def __init__(self, *args, user, districts, miniapps, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Topic.choices)
        self.fields["topic"].choices = [(topic, in_language(labels[topic])) for topic in sendable_topics(user)]
        self.fields["districts"].choices = [(district.pk, district.name) for district in districts]
        self.fields["age_bands"].choices = [(band, age_band_label(band)) for band in AGE_BANDS]
        self.fields["miniapp"].choices = [("", _("（指定しない）"))] + [
            (item.id, item.name if get_language() in (None, "ja") else item.name_en or item.name) for item in miniapps]
        self.without_criteria = False

    def clean_interests(self) -> list[str]:
        tags = [tag.lower() for tag in _TAG_SPLIT.split(self.cleaned_data["interests"]) if tag]
        if any(len(tag) > 32 for tag in tags):
            raise forms.ValidationError(_("関心タグは1つ32文字以内で指定してください。"), code="max_length")
        return sorted(set(tags))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("audience") == "filtered" and not any(cleaned.get(name) for name in AUDIENCE_CRITERIA) \
                and not any(name in self.errors for name in AUDIENCE_CRITERIA):
            self.without_criteria = True
            self.add_error("audience", _("校区・関心タグ・年代・ミニアプリのうち1つ以上を指定してください。"))
        return cleaned

    def audience_json(self) -> dict:
        """The audience object of the API (`{"everyone": true}` or the criteria given)."""
        data = self.cleaned_data
        if data["audience"] == "everyone":
            return {"everyone": True}
        return {name: data[name] for name in AUDIENCE_CRITERIA if data.get(name)}


class NotificationForm(AudienceForm):
    title = forms.CharField(label=gettext_lazy("件名"), max_length=100)
    body = forms.CharField(label=gettext_lazy("本文"), max_length=1000, widget=forms.Textarea(attrs={"rows": 5}))
    deep_link = forms.CharField(label=gettext_lazy("アプリ内リンク（任意）"), max_length=500, required=False,
                                help_text=gettext_lazy("通知を開いたときの表示先。/ で始まるアプリ内のパス、または https:// のURL。"))
    priority = forms.ChoiceField(label=gettext_lazy("優先度"), required=False, choices=[
        ("", gettext_lazy("既定（防災は高、その他は通常）")), ("normal", gettext_lazy("通常")), ("high", gettext_lazy("高"))])
    when = forms.ChoiceField(label=gettext_lazy("送信のタイミング"), widget=forms.RadioSelect, initial="now",
                             choices=[("now", gettext_lazy("今すぐ送る")), ("later", gettext_lazy("日時を指定して予約する"))])
    send_at = forms.DateTimeField(label=gettext_lazy("予約日時（日本時間）"), required=False,
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))

    field_order = ["title", "body", "deep_link", "topic", "priority", "audience", *AUDIENCE_CRITERIA, "when",
                   "send_at"]

    def clean_deep_link(self) -> str:
        # The service's own rule, checked here too so that a send to everyone fails before its confirmation step.
        deep_link = self.cleaned_data["deep_link"].strip()
        if deep_link and not services.DEEP_LINK_RE.match(deep_link):
            raise forms.ValidationError(_("アプリ内のパス（/ で始まる）か https:// のURLを入力してください。"),
                                        code="invalid")
        return deep_link

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("when") == "later":
            send_at = cleaned.get("send_at")
            if send_at is None and "send_at" not in self.errors:
                self.add_error("send_at", _("予約する日時を入力してください。"))
            elif send_at is not None and send_at <= timezone.now():
                self.add_error("send_at", _("予約日時は現在より後の日時を指定してください。"))
        else:
            cleaned["send_at"] = None
        return cleaned


def _form_kwargs(request) -> dict:
    from miniapps.selectors import catalog_items

    return {"user": request.user, "districts": list(District.objects.order_by("sort_order", "name")),
            "miniapps": catalog_items()}


def _multi_initial(form_class, data) -> dict:
    """A posted form's values as initial values (the composer redisplayed without its errors)."""
    multiple = {name for name, field in form_class.base_fields.items() if isinstance(field, forms.MultipleChoiceField)}
    return {name: data.getlist(name) if name in multiple else data.get(name) for name in data
            if name in form_class.base_fields}


def _show_service_errors(form: forms.Form, exc: ApiError) -> None:
    """A service's ApiError on the form: its field messages on the matching fields (the API's
    `audience.<criterion>` names mapped to the form's), the rest on top."""
    if not exc.fields:
        form.add_error(None, exc.message if get_language() in (None, "ja") else exc.message_en)
    for field, field_messages in exc.fields.items():
        name = _ERROR_FIELDS.get(field, field)
        for message in field_messages:
            form.add_error(name if name in form.fields else None, message)


def audience_preview(form: AudienceForm) -> dict:
    """{"size": {...}} from the same selector as the API, {"errors": [...]}, or {"prompt": True}
    while no criterion is chosen yet."""
    if not form.is_valid():
        if form.without_criteria and len(form.errors) == 1:
            return {"prompt": True}
        return {"errors": [message for field_errors in form.errors.values() for message in field_errors]}
    try:
        size = selectors.audience_preview(audience=form.audience_json(), topic=form.cleaned_data["topic"])
    except ApiError as exc:
        return {"errors": [message for field_messages in exc.fields.values() for message in field_messages]
                or [exc.message]}
    return {"size": size, "everyone": form.cleaned_data["audience"] == "everyone"}


# --- audience summaries -------------------------------------------------------------------------
def district_names(audiences: list[dict]) -> dict[int, str]:
    ids = {district for audience in audiences for district in audience.get("districts", ())}
    return dict(District.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def audience_summary(audience: dict, names: dict[int, str]) -> list[str]:
    """Who a notification was for, in words: one entry per criterion (all must match)."""
    if audience.get("everyone"):
        return [_("全員")]
    parts = []
    if districts := audience.get("districts"):
        parts.append(_("校区: %(names)s") % {"names": "、".join(names.get(d, f"#{d}") for d in districts)})
    if interests := audience.get("interests"):
        parts.append(_("関心: %(tags)s") % {"tags": "、".join(interests)})
    if bands := audience.get("age_bands"):
        parts.append(_("年代: %(bands)s") % {"bands": "、".join(age_band_label(band) for band in bands)})
    if miniapp := audience.get("miniapp"):
        from miniapps.registry import registry

        manifest = registry.get(miniapp)
        name = in_language(f"{manifest.name_ja} / {manifest.name_en}") if manifest else miniapp
        parts.append(_("ミニアプリ「%(name)s」の利用者") % {"name": name})
    if user_ids := audience.get("user_ids"):
        parts.append(_("指定した住民 %(count)s 人") % {"count": len(user_ids)})
    return parts


# --- pages --------------------------------------------------------------------------------------
@section_required("notifications")
@require_GET
def notification_list(request):
    page = Paginator(selectors.notification_list(), PAGE_SIZE).get_page(request.GET.get("page"))
    notifications = list(page.object_list)
    stats = selectors.notification_stats_many(notifications=notifications)
    names = district_names([notification.audience for notification in notifications])
    rows = [{"notification": notification, "stats": stats[notification.pk],
             "audience": audience_summary(notification.audience, names)} for notification in notifications]
    return render(request, "console/notifications/list.html", {"page": page, "rows": rows})


@section_required("notifications_send")
@require_http_methods(["GET", "POST"])
def notification_compose(request):
    """The composer. Posts carry `action`: "send" (the default), "size" (show the audience size
    without JavaScript), "confirm" (after the confirmation step of a send to everyone) or "edit"
    (back from that step)."""
    kwargs = _form_kwargs(request)
    action = request.POST.get("action", "send") if request.method == "POST" else None
    context = {"interest_tags": selectors.audience_interest_tags(
        minimum_residents=int(request.tenant.setting("privacy_threshold") or 1))}
    if action in ("size", "edit"):
        form = NotificationForm(initial=_multi_initial(NotificationForm, request.POST), **kwargs)
        if action == "size":
            context["preview"] = audience_preview(AudienceForm(request.POST, **kwargs))
        return render(request, "console/notifications/compose.html", {**context, "form": form})

    form = NotificationForm(request.POST or None, **kwargs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["audience"] == "everyone" and action != "confirm":
            preview = audience_preview(AudienceForm(request.POST, **kwargs))
            return render(request, "console/notifications/confirm.html",
                          {"form": form, "preview": preview, "topic_label": dict(form.fields["topic"].choices)[data["topic"]]})
        try:
            notification = services.notification_create(
                acting_user=request.user, title=data["title"], body=data["body"], topic=data["topic"],
                audience=form.audience_json(), priority=data["priority"] or None, deep_link=data["deep_link"],
                send_at=data["send_at"])
        except ApiError as exc:
            _show_service_errors(form, exc)
        else:
            if notification.status == Notification.Status.SCHEDULED:
                messages.success(request, _("「%(title)s」を %(when)s に予約しました。") % {
                    "title": notification.title,
                    "when": timezone.localtime(notification.send_at).strftime("%Y-%m-%d %H:%M")})
            else:
                messages.success(request, _("「%(title)s」の送信を開始しました。") % {"title": notification.title})
            return HttpResponseRedirect(reverse("console:notification_detail", args=[notification.pk]))
    status = 400 if form.errors else 200
    return render(request, "console/notifications/compose.html", {**context, "form": form}, status=status)


@section_required("notifications_send")
@require_POST
def notification_audience_size(request):
    """The composer's live audience size (htmx): the same selector as POST
    /api/v1/staff/notifications/audience-size/."""
    preview = audience_preview(AudienceForm(request.POST, **_form_kwargs(request)))
    return render(request, "console/notifications/_audience_size.html", {"preview": preview},
                  status=400 if "errors" in preview else 200)


@section_required("notifications")
@require_GET
def notification_detail(request, notification_id: int):
    """A notification and its delivery stats; the stats panel reloads itself (htmx) while sending."""
    notification = selectors.access_notification(notification_id=notification_id)
    context = {"notification": notification, "stats": selectors.notification_stats(notification=notification),
               "refreshing": notification.status in (Notification.Status.QUEUED, Notification.Status.SENDING)}
    if request.htmx:
        return render(request, "console/notifications/_stats.html", context)
    context.update(audience=audience_summary(notification.audience, district_names([notification.audience])),
                   may_cancel=notification.status == Notification.Status.SCHEDULED
                   and may_send(request.user, notification.topic))
    return render(request, "console/notifications/detail.html", context)


@section_required("notifications_send")
def notification_cancel(request, notification_id: int):
    """Cancels a scheduled notification: senders of its topic only (403 for the others)."""
    notification = selectors.access_notification(notification_id=notification_id)
    if not may_send(request.user, notification.topic):
        raise PermissionDenied
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        services.notification_cancel(notification=notification, acting_user=request.user)
    except ApiError as exc:
        for field_messages in exc.fields.values() or [[exc.message]]:
            for message in field_messages:
                messages.error(request, message)
    else:
        messages.success(request, _("予約を取り消しました。"))
    return HttpResponseRedirect(reverse("console:notification_detail", args=[notification.pk]))
