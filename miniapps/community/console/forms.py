from django import forms


class HideForm(forms.Form):
    reason = forms.CharField(label="理由（記録用） / Reason (for the record)", max_length=500, required=False)


class SuspendForm(forms.Form):
    reason = forms.CharField(label="理由 / Reason", max_length=500)
    days = forms.IntegerField(label="日数（空欄で無期限） / Days (empty: until lifted)", min_value=1, max_value=365,
                              required=False)


class OpenDataForm(forms.Form):
    """Publish ("1") or withdraw ("0") an event in the open-data イベント一覧."""

    open_data = forms.TypedChoiceField(choices=[("1", "公開 / Publish"), ("0", "非公開 / Withdraw")],
                                       coerce=lambda value: value == "1")
