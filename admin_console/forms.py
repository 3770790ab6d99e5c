"""Console forms: they validate shape only; the services decide (and raise ApiError) on the rest."""
from __future__ import annotations

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role
from superapp.api.errors import ApiError

from .access import role_label


# Error fields that carry data for API clients rather than words for people.
_MACHINE_FIELDS = {"retry_after_seconds"}


def add_api_errors(form: forms.Form, exc: ApiError) -> None:
    """Shows a service's ApiError on the form: messages about form fields on those fields; when none
    is about a form field, the error's own message on top, with any other messages it carries."""
    on_form = {field: messages for field, messages in exc.fields.items() if field in form.fields}
    for field, messages in on_form.items():
        for message in messages:
            form.add_error(field, message)
    if not on_form:
        form.add_error(None, exc.message if get_language() in (None, "ja") else exc.message_en)
        for field, messages in exc.fields.items():
            if field not in _MACHINE_FIELDS:
                for message in messages:
                    form.add_error(None, message)


class ConsoleForm(forms.Form):
    """Labels without Django's trailing colon, which reads oddly after Japanese labels."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def role_choices() -> list[tuple[str, str]]:
    return [(role.value, role_label(role.value)) for role in Role]


class LoginForm(ConsoleForm):
    username = forms.CharField(label=_("ユーザー名"), max_length=150,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True,
                                                             "autocapitalize": "none", "spellcheck": "false"}))
    password = forms.CharField(label=_("パスワード"), strip=False, max_length=256,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class TotpCodeForm(ConsoleForm):
    code = forms.CharField(
        label=_("確認コード（6桁）"), max_length=16,
        help_text=_("認証アプリに表示されている6桁の数字を入力してください。"),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class DistrictForm(ConsoleForm):
    name = forms.CharField(label=_("校区名"), max_length=100)
    kana = forms.CharField(label=_("かな"), max_length=200, required=False)
    sort_order = forms.IntegerField(label=_("表示順"), min_value=0, max_value=100000, required=False,
                                    help_text=_("空欄のときは最後に追加します。"))

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("校区名を入力してください。"), code="required")
        return name


class StaffInviteForm(ConsoleForm):
    email = forms.EmailField(label=_("メールアドレス"), max_length=254,
                             help_text=_("このアドレスにパスワード設定用のリンクを送ります。ユーザー名にもなります。"),
                             widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    display_name = forms.CharField(label=_("氏名"), max_length=100, required=False)
    roles = forms.MultipleChoiceField(label=_("役割"), choices=role_choices, widget=forms.CheckboxSelectMultiple,
                                      error_messages={"required": _("役割を1つ以上選んでください。")})


class StaffRolesForm(ConsoleForm):
    roles = forms.MultipleChoiceField(label=_("役割"), choices=role_choices, widget=forms.CheckboxSelectMultiple,
                                      required=False,
                                      help_text=_("役割をすべて外すと、管理画面を使えなくなります。"))


class SetPasswordForm(ConsoleForm):
    password = forms.CharField(label=_("新しいパスワード"), strip=False, max_length=256,
                               help_text=_("10文字以上。推測されやすいものや数字だけのものは使えません。"),
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_again = forms.CharField(label=_("新しいパスワード（確認）"), strip=False, max_length=256,
                                     widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password_again") and \
                cleaned["password"] != cleaned["password_again"]:
            self.add_error("password_again", _("確認用のパスワードが一致しません。"))
        return cleaned


class AuditFilterForm(ConsoleForm):
    actor = forms.TypedChoiceField(label=_("職員"), coerce=int, required=False, empty_value=None)
    action = forms.CharField(label=_("操作"), max_length=64, required=False,
                             help_text=_("前方一致（例: staff. ですべての職員操作）"),
                             widget=forms.TextInput(attrs={"list": "audit-actions", "autocomplete": "off"}))
    date_from = forms.DateField(label=_("開始日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("終了日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actors=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Choices from one query, validated in memory (a ModelChoiceField would query again).
        self.fields["actor"].choices = [("", _("（すべて）"))] + [
            (user.pk, f"{user.display_name} ({user.username})" if user.display_name else user.username)
            for user in actors]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("終了日は開始日以降の日付にしてください。"))
        return cleaned
