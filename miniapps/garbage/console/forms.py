"""Console forms for the garbage calendar (labels in Japanese with English)."""
from __future__ import annotations

import re

from django import forms

from ..models import Area, AreaGroup, Category, CollectionChange

_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


class CategoryForm(forms.Form):
    color = forms.CharField(label="色 / Colour (#rrggbb)", max_length=7, widget=forms.TextInput(attrs={"type": "color"}))
    sublabel = forms.CharField(label="副題 / Subtitle", max_length=200, required=False)
    description = forms.CharField(label="説明 / Description (HTML)", required=False, widget=forms.Textarea(attrs={"rows": 6}))
    sort_order = forms.IntegerField(label="表示順 / Order", min_value=0, max_value=10000)

    def clean_color(self):
        color = self.cleaned_data["color"]
        if not _COLOR_RE.match(color):
            raise forms.ValidationError("#rrggbb の形式で入力してください / use the #rrggbb form")
        return color


class ChangeForm(forms.Form):
    date = forms.DateField(label="対象日 / Date", widget=forms.DateInput(attrs={"type": "date"}))
    action = forms.ChoiceField(label="変更 / Change", choices=CollectionChange.Action.choices)
    new_date = forms.DateField(label="振替先 / New date (振替のみ / moves only)", required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))
    category = forms.ModelChoiceField(label="分別区分 / Category", queryset=Category.objects.all(), required=False,
                                      empty_label="すべて / All categories")
    group = forms.ModelChoiceField(label="地区グループ / Area group", queryset=AreaGroup.objects.all(), required=False,
                                   empty_label="すべての地区 / Every area")
    area = forms.ModelChoiceField(label="地区（個別） / One area", queryset=Area.objects.select_related("group"),
                                  required=False, empty_label="—")
    note = forms.CharField(label="お知らせ文 / Note shown to residents", max_length=200, required=False)


class PickupDayForm(forms.Form):
    date = forms.DateField(label="収集日 / Date", widget=forms.DateInput(attrs={"type": "date"}))
    group = forms.ModelChoiceField(label="地区グループ / Area group", queryset=AreaGroup.objects.all())
    capacity = forms.IntegerField(label="受付上限（点） / Capacity (items)", min_value=1, max_value=10000)
    note = forms.CharField(label="備考 / Note", max_length=200, required=False)


class CapacityForm(forms.Form):
    capacity = forms.IntegerField(label="受付上限（点） / Capacity (items)", min_value=0, max_value=10000)


class ItemTypeForm(forms.Form):
    name = forms.CharField(label="品目 / Item", max_length=100)
    name_en = forms.CharField(label="English", max_length=100, required=False)
    fee = forms.IntegerField(label="手数料（円） / Fee (yen)", min_value=0, max_value=100000)
    active = forms.BooleanField(label="受付中 / Accepted", required=False, initial=True)


class DayForm(forms.Form):
    date = forms.DateField(label="収集日 / Date", widget=forms.DateInput(attrs={"type": "date"}))
