from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ..forms import ConsoleForm


class OnboardForm(ConsoleForm):
    code = forms.CharField(label=_("全国地方公共団体コード"), min_length=6, max_length=6,
                           help_text=_("検査数字付きの6桁（例: 412015）"),
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
    name = forms.CharField(label=_("名称"), max_length=100)
    name_kana = forms.CharField(label=_("名称（かな）"), max_length=200, required=False)
    name_en = forms.CharField(label=_("英語名"), max_length=200, required=False)
    prefecture = forms.CharField(label=_("都道府県"), max_length=10, required=False)
    domain = forms.CharField(label=_("ホスト名"), max_length=253,
                             help_text=_("例: karatsu.localhost（スキーマ名はこの先頭から作られます）"),
                             widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}))
    admin_email = forms.EmailField(label=_("最初の管理者のメールアドレス"), max_length=254,
                                   help_text=_("パスワード設定用のリンクをこのアドレスに送ります。"))
