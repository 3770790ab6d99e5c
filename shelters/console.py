"""Staff console pages for disaster operations: disaster control (open a disaster, open and close
shelters), the reception screen at a shelter desk (QR scan field, manual entry, evacuees, check-out)
and the HQ report. They call the same services as the staff API."""
from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admin_console.access import section_required
from superapp.api.errors import ApiError
from superapp.api.utils import client_ip

from . import selectors, services
from .models import CheckIn, Disaster, Sex, Shelter, SpecialCare
from .reports import report_csv


SOURCE_LABELS = dict(CheckIn.Source.choices)
SPECIAL_CARE_LABELS = dict(SpecialCare.choices)


class DisasterForm(forms.Form):
    name = forms.CharField(label=_("災害名"), max_length=200)
    type = forms.ChoiceField(label=_("種別"), choices=Disaster.Type.choices)


class ScanForm(forms.Form):
    qr_token = forms.CharField(label=_("市民証QRコード（スキャナーで読み取り）"), max_length=2000,
                               widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off",
                                                             "inputmode": "none"}))
    special_care = forms.MultipleChoiceField(label=_("要配慮"), choices=SpecialCare.choices, required=False,
                                             widget=forms.CheckboxSelectMultiple)
    pets = forms.IntegerField(label=_("ペット（頭数）"), min_value=0, max_value=20, initial=0, required=False)


class ManualForm(forms.Form):
    name = forms.CharField(label=_("氏名"), max_length=100)
    kana = forms.CharField(label=_("ふりがな"), max_length=200, required=False)
    address = forms.CharField(label=_("住所"), max_length=300, required=False)
    birth_date = forms.DateField(label=_("生年月日（例: 1950-04-01）"), required=False)
    sex = forms.ChoiceField(label=_("性別"), choices=Sex.choices, initial=Sex.OTHER, required=False)
    special_care = forms.MultipleChoiceField(label=_("要配慮"), choices=SpecialCare.choices, required=False,
                                             widget=forms.CheckboxSelectMultiple)
    pets = forms.IntegerField(label=_("ペット（頭数）"), min_value=0, max_value=20, initial=0, required=False)

    def __init__(self, *args, **kwargs):
        # Its own element ids: beside the scan form on one page, the shared field names (special
        # care, pets) would otherwise give two elements one id, and the labels the wrong field.
        kwargs.setdefault("auto_id", "id_manual_%s")
        super().__init__(*args, **kwargs)


def _api_error_text(exc: ApiError) -> str:
    details = " ".join(message for messages_ in exc.fields.values() for message in messages_)
    return f"{exc.message} {details}".strip()


@section_required("shelters")
def overview(request):
    return render(request, "console/shelters/overview.html", {"shelters": selectors.shelter_public_rows()})


@section_required("disaster_control")
def disaster_control(request):
    form = DisasterForm()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "open_disaster":
                form = DisasterForm(request.POST)
                if form.is_valid():
                    disaster = services.disaster_open(acting_user=request.user, **form.cleaned_data)
                    messages.success(request, _("災害「%(name)s」を開始しました。") % {"name": disaster.name})
                    return HttpResponseRedirect(reverse("console:disaster_control"))
            elif action in {"open_shelter", "close_shelter"}:
                disaster = selectors.access_disaster(id=int(request.POST.get("disaster", 0) or 0))
                shelter = selectors.access_shelter(id=int(request.POST.get("shelter", 0) or 0))
                operation = services.shelter_open if action == "open_shelter" else services.shelter_close
                operation(disaster=disaster, shelter=shelter, acting_user=request.user)
                messages.success(request, _("%(shelter)s を%(what)sしました。") % {
                    "shelter": shelter.name, "what": _("開設") if action == "open_shelter" else _("閉鎖")})
                return HttpResponseRedirect(reverse("console:disaster_control"))
            elif action == "close_disaster":
                disaster = selectors.access_disaster(id=int(request.POST.get("disaster", 0) or 0))
                services.disaster_close(disaster=disaster, acting_user=request.user)
                messages.success(request, _("災害「%(name)s」を終了しました。") % {"name": disaster.name})
                return HttpResponseRedirect(reverse("console:disaster_control"))
            else:
                messages.error(request, _("不明な操作です。"))
        except (ApiError, ValueError) as exc:
            messages.error(request, _api_error_text(exc) if isinstance(exc, ApiError) else _("入力が不正です。"))
    open_disasters = [d for d in selectors.disaster_list() if d.closed_at is None]
    openings = {row["id"]: row for row in selectors.shelter_public_rows()}
    return render(request, "console/shelters/control.html", {
        "form": form, "open_disasters": open_disasters, "shelters": list(openings.values()),
        "past_disasters": [d for d in selectors.disaster_list()[:20] if d.closed_at is not None],
    }, status=400 if form.errors else 200)


@section_required("shelters")
def reception(request, shelter_id: int):
    shelter = selectors.access_shelter(id=shelter_id)
    scan_form, manual_form = ScanForm(), ManualForm()
    if request.method == "POST":
        action = request.POST.get("action")
        key = request.POST.get("idempotency_key", "")
        try:
            if action == "scan":
                scan_form = ScanForm(request.POST)
                if scan_form.is_valid():
                    _check_in(request, shelter, key, qr=scan_form.cleaned_data)
                    return HttpResponseRedirect(reverse("console:shelter_reception", args=[shelter.pk]))
            elif action == "manual":
                manual_form = ManualForm(request.POST)
                if manual_form.is_valid():
                    _check_in(request, shelter, key, person=manual_form.cleaned_data)
                    return HttpResponseRedirect(reverse("console:shelter_reception", args=[shelter.pk]))
            elif action == "check_out":
                ids = [int(value) for value in request.POST.getlist("check_in") if value.isdigit()]
                services.shelter_check_out(shelter=shelter, check_in_ids=ids, acting_user=request.user)
                messages.success(request, _("退所を記録しました。"))
                return HttpResponseRedirect(reverse("console:shelter_reception", args=[shelter.pk]))
            else:
                messages.error(request, _("不明な操作です。"))
        except ApiError as exc:
            messages.error(request, _api_error_text(exc))
    row = next((r for r in selectors.shelter_public_rows() if r["id"] == shelter.pk), None)
    evacuees = _displayed(selectors.reception_evacuees(shelter=shelter))
    invalid = scan_form.errors or manual_form.errors
    return render(request, "console/shelters/reception.html", {
        "shelter": shelter, "row": row, "evacuees": evacuees, "scan_form": scan_form, "manual_form": manual_form,
        "idempotency_key": uuid.uuid4().hex,
    }, status=400 if invalid else 200)


def _displayed(rows: list[dict]) -> list[dict]:
    """Adds the texts the evacuee list shows (labels, Asia/Tokyo time) to the selector's rows."""
    for row in rows:
        at = timezone.localtime(row["checked_in_at"])
        row["source_label"] = SOURCE_LABELS.get(row["source"], row["source"])
        row["special_care_label"] = "、".join(SPECIAL_CARE_LABELS.get(code, code) for code in row["special_care"])
        row["checked_in_local"] = f"{at.month}/{at.day} {at:%H:%M}"
    return rows


def _check_in(request, shelter: Shelter, key: str, *, qr: dict | None = None, person: dict | None = None) -> None:
    """One reception desk action, idempotent per rendered form (a double-clicked submit checks in once)."""
    from .citizen import evacuee_from_qr

    def compute():
        if qr is not None:
            evacuee = evacuee_from_qr(token=qr["qr_token"].strip(), acting_user=request.user,
                                      client_ip=client_ip(request))
            evacuee.special_care, evacuee.pets = list(qr["special_care"]), qr["pets"] or 0
        else:
            evacuee = services.Evacuee(**{**person, "pets": person["pets"] or 0, "sex": person["sex"] or Sex.OTHER,
                                          "special_care": list(person["special_care"])})
        result = services.shelter_check_in(shelter=shelter, evacuees=[evacuee], acting_user=request.user)
        names = [c.name for c in result.check_ins] or [c.name for c in result.already_present]
        return (201 if result.check_ins else 200), {"names": names, "new": bool(result.check_ins),
                                                    "flagged": any(c.possible_duplicate_of_id for c in result.check_ins)}

    _status, body = services.idempotent_response(scope=f"console-check-in:{shelter.pk}", key=key or uuid.uuid4().hex,
                                                 payload=repr(sorted(request.POST.items())).encode(), compute=compute)
    names = "、".join(body["names"])
    if body["new"]:
        messages.success(request, _("%(names)s さんを受け付けました。") % {"names": names})
        if body["flagged"]:
            messages.warning(request, _("別の避難所にも受付記録があります。確認してください。"))
    else:
        messages.info(request, _("%(names)s さんは既にこの避難所で受付済みです。") % {"names": names})


@section_required("disaster_control")
def report(request, disaster_id: int):
    data = selectors.disaster_report(disaster=selectors.access_disaster(id=disaster_id))
    if request.GET.get("format") == "csv":
        response = HttpResponse(report_csv(data).encode("utf-8"), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="disaster-{disaster_id}-report.csv"'
        return response
    return render(request, "console/shelters/report.html", {"report": data})
