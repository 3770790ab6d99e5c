"""Staff console pages for the garbage calendar: categories, one-off changes (holiday shifts,
cancelled days), oversized-garbage pickup days and item fees, and the bookings of a day. The pages
call the same services and selectors as the API."""
from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from admin_console.access import section_required
from superapp.api.errors import ApiError

from .. import selectors, services
from ..importers.opendata import write_garbage_separate
from ..models import Area, Booking, Category, CollectionChange, PickupDay, PickupItemType
from ..workdays import booking_cutoff
from .forms import CapacityForm, CategoryForm, ChangeForm, DayForm, ItemTypeForm, PickupDayForm

# The console section "garbage" (admin_console.access.SECTIONS) names the roles, the same as the
# manifest's staff_roles (municipality admins for now).
SECTION = "garbage"


def _add_api_errors(form, exc: ApiError) -> None:
    if not exc.fields:
        form.add_error(None, f"{exc.message} / {exc.message_en}")
    for field, messages in exc.fields.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def _get_or_404(queryset, pk: int):
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


@section_required(SECTION)
@require_http_methods(["GET"])
def index(request):
    today = timezone.localdate()
    context = {
        "area_count": Area.objects.count(),
        "categories": selectors.category_list(),
        "changes": selectors.upcoming_changes(since=today)[:10],
        "pickup_days": PickupDay.objects.select_related("group").filter(date__gte=today)[:10],
    }
    return render(request, "garbage/console/index.html", context)


@section_required(SECTION)
@require_http_methods(["GET"])
def categories(request):
    rows = [(category, category.rules.count()) for category in selectors.category_list()]
    return render(request, "garbage/console/categories.html", {"rows": rows})


@section_required(SECTION)
@require_http_methods(["GET", "POST"])
def category_edit(request, category_id: int):
    category = _get_or_404(Category.objects.all(), category_id)
    initial = {"color": category.color, "sublabel": category.sublabel, "description": category.description,
               "sort_order": category.sort_order}
    form = CategoryForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.category_update(category=category, acting_user=request.user, **form.cleaned_data)
        return HttpResponseRedirect(reverse("garbage:categories"))
    status = 400 if form.errors else 200
    return render(request, "garbage/console/category_edit.html", {"form": form, "category": category}, status=status)


@section_required(SECTION)
@require_http_methods(["GET", "POST"])
def changes(request):
    form = ChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.collection_change_create(acting_user=request.user, **form.cleaned_data)
        except ApiError as exc:
            _add_api_errors(form, exc)
        else:
            return HttpResponseRedirect(reverse("garbage:changes"))
    status = 400 if form.errors else 200
    since = timezone.localdate() - timedelta(days=31)
    return render(request, "garbage/console/changes.html",
                  {"form": form, "changes": selectors.upcoming_changes(since=since)}, status=status)


@section_required(SECTION)
@require_POST
def change_delete(request, change_id: int):
    change = _get_or_404(CollectionChange.objects.all(), change_id)
    services.collection_change_delete(change=change, acting_user=request.user)
    return HttpResponseRedirect(reverse("garbage:changes"))


@section_required(SECTION)
@require_http_methods(["GET", "POST"])
def pickup(request):
    kind = request.POST.get("form") if request.method == "POST" else None
    if request.method == "POST" and kind not in ("day", "type"):
        return render(request, "garbage/console/message.html",
                      {"message": "不正なフォームです / unknown form", "back": reverse("garbage:pickup")}, status=400)
    day_form = PickupDayForm(request.POST if kind == "day" else None, prefix="day")
    type_form = ItemTypeForm(request.POST if kind == "type" else None, prefix="type", initial={"active": True})
    if kind is not None:
        form, call = (day_form, services.pickup_day_create) if kind == "day" else (type_form, services.pickup_item_type_save)
        if form.is_valid():
            try:
                call(acting_user=request.user, **form.cleaned_data)
            except ApiError as exc:
                _add_api_errors(form, exc)
            else:
                return HttpResponseRedirect(reverse("garbage:pickup"))
    today = timezone.localdate()
    days = [(day, booking_cutoff(day.date)) for day in PickupDay.objects.select_related("group").filter(date__gte=today)]
    status = 400 if day_form.errors or type_form.errors else 200
    return render(request, "garbage/console/pickup.html", {
        "day_form": day_form, "type_form": type_form, "days": days,
        "item_types": selectors.pickup_item_types(active_only=False), "capacity_form": CapacityForm(),
    }, status=status)


@section_required(SECTION)
@require_POST
def pickup_capacity(request, day_id: int):
    day = _get_or_404(PickupDay.objects.all(), day_id)
    form = CapacityForm(request.POST)
    if form.is_valid():
        try:
            services.pickup_day_set_capacity(acting_user=request.user, day=day, capacity=form.cleaned_data["capacity"])
        except ApiError as exc:
            return render(request, "garbage/console/message.html",
                          {"message": f"{exc.fields.get('capacity', [exc.message])[0]}", "back": reverse("garbage:pickup")},
                          status=409)
        return HttpResponseRedirect(reverse("garbage:pickup"))
    return render(request, "garbage/console/message.html",
                  {"message": "受付上限は0以上の数です / capacity must be a number ≥ 0", "back": reverse("garbage:pickup")},
                  status=400)


@section_required(SECTION)
@require_http_methods(["GET", "POST"])
def item_type_edit(request, item_type_id: int):
    item_type = _get_or_404(PickupItemType.objects.all(), item_type_id)
    form = ItemTypeForm(request.POST or None, initial={"name": item_type.name, "name_en": item_type.name_en,
                                                       "fee": item_type.fee, "active": item_type.active})
    if request.method == "POST" and form.is_valid():
        try:
            services.pickup_item_type_save(acting_user=request.user, item_type=item_type, **form.cleaned_data)
        except ApiError as exc:
            _add_api_errors(form, exc)
        else:
            return HttpResponseRedirect(reverse("garbage:pickup"))
    status = 400 if form.errors else 200
    return render(request, "garbage/console/item_type_edit.html", {"form": form, "item_type": item_type}, status=status)


@section_required(SECTION)
@require_http_methods(["GET"])
def bookings(request):
    form = DayForm(request.GET or {"date": timezone.localdate()})
    rows = []
    day = None
    if form.is_valid():
        day = form.cleaned_data["date"]
        rows = list(selectors.bookings_for_day(day=day))
    status = 400 if form.errors else 200
    booked = [b for b in rows if b.status == Booking.Status.BOOKED]
    return render(request, "garbage/console/bookings.html", {
        "form": form, "day": day, "bookings": rows, "items_total": sum(b.item_count for b in booked),
        "fee_total": sum(b.total_fee for b in booked),
    }, status=status)


@section_required(SECTION)
@require_POST
def booking_cancel(request, booking_id: int):
    booking = _get_or_404(Booking.objects.select_related("pickup_day"), booking_id)
    try:
        services.booking_cancel(booking=booking, acting_user=request.user)
    except ApiError as exc:
        return render(request, "garbage/console/message.html",
                      {"message": f"{exc.message} / {exc.message_en}", "back": reverse("garbage:bookings")}, status=409)
    return HttpResponseRedirect(f"{reverse('garbage:bookings')}?date={booking.pickup_day.date:%Y-%m-%d}")


@section_required(SECTION)
@require_http_methods(["GET"])
def dictionary_csv(request):
    """The sorting dictionary as the national standard ゴミの分別方法一覧 CSV."""
    municipality = connection.tenant
    data = write_garbage_separate(selectors.item_search(), municipality_code=municipality.code,
                                  municipality_name=municipality.name)
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{municipality.code}_garbage_separate.csv"'
    return response
