"""Forms of the data-platform console pages (bilingual labels, as on the other console pages)."""
from __future__ import annotations

from django import forms

from admin_console.forms import ConsoleForm

from ..datasets import all_datasets, get_dataset
from ..facts import all_facts
from ..models import ExportFormat, ExportSchedule

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def dataset_choices(*, include_named: bool, schedulable_only: bool = False) -> list[tuple[str, str]]:
    return [(dataset.key, f"{dataset.title_ja} / {dataset.title_en}") for dataset in all_datasets()
            if dataset.available() and (include_named or not dataset.named_list)
            and (not schedulable_only or dataset.schedulable)]


class ExportForm(ConsoleForm):
    dataset = forms.ChoiceField(label="データセット / Dataset")
    format = forms.ChoiceField(label="形式 / Format", choices=ExportFormat.choices, initial="csv")
    date_from = forms.DateField(label="開始日 / From", required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label="終了日 / To", required=False, widget=DATE_INPUT)
    disaster_id = forms.IntegerField(label="災害ID（避難所のデータのみ） / Disaster ID (shelter data only)",
                                     required=False, min_value=1, max_value=2 ** 63 - 1)
    event_id = forms.IntegerField(label="イベントID（イベント参加者名簿のみ） / Event ID (event participants only)",
                                  required=False, min_value=1, max_value=2 ** 63 - 1)
    purpose = forms.CharField(label="目的（個人情報を含む名簿のみ・監査ログに記録） / Purpose (named lists only; audited)",
                              required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, include_named: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = dataset_choices(include_named=include_named)

    def parameters(self) -> dict:
        """The filled-in parameter fields the chosen dataset takes (the others are ignored)."""
        dataset = get_dataset(self.cleaned_data["dataset"])
        accepted = {parameter.name for parameter in dataset.parameters} if dataset else set()
        return {name: self.cleaned_data[name] for name in ("disaster_id", "event_id")
                if name in accepted and self.cleaned_data.get(name)}


class ScheduleForm(ConsoleForm):
    dataset = forms.ChoiceField(label="データセット / Dataset")
    format = forms.ChoiceField(label="形式 / Format", choices=ExportFormat.choices, initial="csv")
    frequency = forms.ChoiceField(label="頻度 / Frequency", choices=ExportSchedule.Frequency.choices,
                                  initial=ExportSchedule.Frequency.WEEKLY)
    weekday = forms.TypedChoiceField(label="曜日（毎週のとき） / Weekday (weekly)", coerce=int, initial=0, choices=[
        (0, "月曜 / Monday"), (1, "火曜 / Tuesday"), (2, "水曜 / Wednesday"), (3, "木曜 / Thursday"),
        (4, "金曜 / Friday"), (5, "土曜 / Saturday"), (6, "日曜 / Sunday")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = dataset_choices(include_named=False, schedulable_only=True)


class RebuildForm(ConsoleForm):
    date_from = forms.DateField(label="開始日 / From", widget=DATE_INPUT)
    date_to = forms.DateField(label="終了日 / To", widget=DATE_INPUT)
    facts = forms.MultipleChoiceField(label="集計（省略時はすべて） / Facts (all when none)", required=False,
                                      widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["facts"].choices = [(fact.key, f"{fact.title_ja} / {fact.title_en}") for fact in all_facts()
                                        if fact.available()]
