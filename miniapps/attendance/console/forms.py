"""Console forms for attendance (shape only; the services apply the rules)."""
from __future__ import annotations

from django import forms

from ..constants import Symptom
from ..models import School, StaffAssignment


class DayForm(forms.Form):
    date = forms.DateField(label="日付 / Date", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class RangeForm(forms.Form):
    start = forms.DateField(label="開始日 / From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="終了日 / To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end"):
            if data["end"] < data["start"]:
                raise forms.ValidationError("終了日が開始日より前です / end is before start")
            if (data["end"] - data["start"]).days > 366:
                raise forms.ValidationError("期間は1年までです / at most one year")
        return data


class RosterForm(forms.Form):
    file = forms.FileField(label="名簿CSV / Roster CSV")
    dry_run = forms.BooleanField(label="確認のみ（取り込まない） / Check only", required=False)


class SchoolForm(forms.Form):
    code = forms.CharField(label="学校コード / School code", max_length=20)
    name = forms.CharField(label="学校名 / Name", max_length=100)
    kind = forms.ChoiceField(label="校種 / Kind", choices=School.Kind.choices)


class SchoolSettingsForm(forms.ModelForm):
    class Meta:
        model = School
        fields = ["name", "name_en", "phone", "cutoff_time", "cutoff_message", "cutoff_message_en",
                  "past_days_allowed", "future_days_allowed", "notify_guardian_on_seen"]
        labels = {
            "name": "学校名 / Name", "name_en": "English name", "phone": "電話番号 / Phone",
            "cutoff_time": "当日連絡の締切時刻 / Same-day cut-off",
            "cutoff_message": "締切後のメッセージ（空欄なら既定文） / Message after the cut-off (Japanese)",
            "cutoff_message_en": "Message after the cut-off (English)",
            "past_days_allowed": "過去日の連絡を受け付ける日数 / Days back a report may cover",
            "future_days_allowed": "先の日付を受け付ける日数 / Days ahead a report may cover",
            "notify_guardian_on_seen": "確認したら保護者に通知する / Tell guardians when a report is seen",
        }
        widgets = {"cutoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                   "cutoff_message": forms.Textarea(attrs={"rows": 2}),
                   "cutoff_message_en": forms.Textarea(attrs={"rows": 2})}


class ReasonsForm(forms.Form):
    reasons = forms.CharField(
        label="理由の一覧（1行に1つ、「日本語 | English」） / Reasons, one per line", widget=forms.Textarea(attrs={"rows": 6}))

    def parsed(self) -> list[tuple[str, str]]:
        pairs = []
        for line in self.cleaned_data["reasons"].splitlines():
            label, _, english = line.partition("|")
            pairs.append((label.strip(), english.strip()))
        return pairs


class AssignmentForm(forms.Form):
    username = forms.CharField(label="職員のユーザー名 / Staff username", max_length=150)
    position = forms.ChoiceField(label="役職 / Position", choices=[
        (value, label) for value, label in StaffAssignment.Position.choices if value != StaffAssignment.Position.BOARD])


class PolicyForm(forms.Form):
    outbreak_threshold_percent = forms.IntegerField(label="学級閉鎖検討の閾値（%） / Alert threshold (%)",
                                                    min_value=1, max_value=100)
    outbreak_min_absent = forms.IntegerField(label="最少人数 / Minimum children", min_value=1, max_value=100)
    outbreak_quiet_days = forms.IntegerField(label="再通知までの日数 / Quiet days after an alert", min_value=0,
                                             max_value=30)
    infection_symptoms = forms.MultipleChoiceField(label="感染症状として数える症状 / Infection-type symptoms",
                                                   choices=Symptom.choices, widget=forms.CheckboxSelectMultiple)
    retention_fiscal_years = forms.IntegerField(
        label="連絡の保存年度数（翌年度末まで=1） / Fiscal years reports are kept after their own", min_value=0,
        max_value=10)
    link_code_ttl_days = forms.IntegerField(label="連携コードの有効日数 / Link code lifetime (days)", min_value=1,
                                            max_value=365)


class AnnouncementForm(forms.Form):
    target = forms.ChoiceField(label="宛先 / To")
    title = forms.CharField(label="件名 / Title", max_length=100)
    body = forms.CharField(label="本文 / Message", max_length=2000, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args, targets: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = targets
