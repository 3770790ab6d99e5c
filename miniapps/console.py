"""Staff console page for the municipality's mini-app catalog (section "miniapps", municipality
admins): every mini-app, built-in or external from the shared catalog, in home-screen order, with
a switch to offer it to residents or not and buttons to move it up or down. The same services as
the staff catalog API (`catalog_entry_update`, `catalog_reorder`)."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from admin_console.access import in_language, section_required
from superapp.api.errors import ApiError

from . import selectors, services
from .manifest import Category


class ToggleForm(forms.Form):
    enabled = forms.TypedChoiceField(choices=[("1", "1"), ("0", "0")], coerce=lambda value: value == "1")


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")])


def _rows(items: list[selectors.CatalogItem]) -> list[dict]:
    categories = dict(Category.choices)
    return [{"item": item, "position": index + 1, "category": in_language(categories.get(item.category, item.category)),
             "name": item.name if get_language() in (None, "ja") else (item.name_en or item.name),
             "first": index == 0, "last": index == len(items) - 1} for index, item in enumerate(items)]


def _render(request, *, status: int = 200):
    return render(request, "console/miniapps/catalog.html", {"rows": _rows(selectors.catalog_items())}, status=status)


def _item_or_404(miniapp_id: str) -> selectors.CatalogItem:
    try:
        return selectors.access_catalog_item(miniapp_id=miniapp_id)
    except ApiError:
        raise Http404 from None


@section_required("miniapps")
@require_GET
def catalog(request):
    return _render(request)


@section_required("miniapps")
@require_POST
def catalog_toggle(request, miniapp_id: str):
    item = _item_or_404(miniapp_id)
    form = ToggleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("操作が正しくありません。もう一度お試しください。"))
        return _render(request, status=400)
    enabled = form.cleaned_data["enabled"]
    services.catalog_entry_update(miniapp_id=item.id, acting_user=request.user, enabled=enabled)
    text = _("「%(name)s」を住民に公開しました。") if enabled else _("「%(name)s」を非公開にしました。")
    messages.success(request, text % {"name": item.name})
    return HttpResponseRedirect(reverse("console:miniapps"))


@section_required("miniapps")
@require_POST
def catalog_move(request, miniapp_id: str):
    item = _item_or_404(miniapp_id)
    form = MoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("操作が正しくありません。もう一度お試しください。"))
        return _render(request, status=400)
    order = [entry.id for entry in selectors.catalog_items()]
    index = order.index(item.id)
    other = index - 1 if form.cleaned_data["direction"] == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
        services.catalog_reorder(order=order, acting_user=request.user)
        messages.success(request, _("「%(name)s」を%(position)s番目にしました。") % {"name": item.name,
                                                                             "position": other + 1})
    return HttpResponseRedirect(reverse("console:miniapps"))
