"""Writes for the garbage calendar: imports (5374, national standard), staff edits, reminders, and
oversized-garbage bookings. Every write is atomic; imports replace the city's data in one transaction
under a per-municipality lock, keeping the ids of areas and categories whose names did not change
(residents' reminders and staff changes survive a yearly re-import)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, time as dtime, timedelta
from pathlib import Path

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from superapp.api.errors import ApiError

from .importers.csvfiles import ImportFailed  # noqa: F401  (re-exported for callers)
from .importers.five374 import Plan, parse_directory
from .importers.opendata import parse_garbage_separate
from .models import (
    Area,
    AreaGroup,
    Booking,
    BookingItem,
    Category,
    Center,
    CenterClosure,
    CollectionChange,
    CollectionRule,
    PickupDay,
    PickupItemType,
    Remark,
    Reminder,
    SortingItem,
)
from .text import fold, reading, search_key
from .workdays import booking_cutoff

CALENDAR_VERSION_KEY = "garbage:calendar-version"
MAX_ITEMS_PER_BOOKING = 10
DEFAULT_TIMES = {Reminder.Timing.EVENING_BEFORE: dtime(20, 0), Reminder.Timing.MORNING_OF: dtime(6, 30)}
REMINDER_HOURS = {Reminder.Timing.EVENING_BEFORE: (12, 23), Reminder.Timing.MORNING_OF: (0, 11)}


def _field_error(field_name: str, ja: str, en: str, *, code: str = "validation_error", status_code: int = 400) -> ApiError:
    return ApiError(code, status_code=status_code, fields={field_name: [f"{ja} / {en}"]})


def calendar_changed() -> None:
    """Invalidates cached calendar answers once the current transaction commits."""
    transaction.on_commit(lambda: cache.set(CALENDAR_VERSION_KEY, time.time_ns(), timeout=None))


def _lock_imports() -> None:
    """One import at a time per municipality (the lock is keyed by the schema)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':garbage-import'))")


# --- 5374 import ------------------------------------------------------------------------------
@dataclass
class ImportReport:
    files: dict[str, str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    def lines(self) -> list[str]:
        out = []
        for name, encoding in self.files.items():
            out.append(f"  {name}: {'なし / absent' if encoding == 'absent' else encoding}")
        labels = {"groups": "地区グループ / area groups", "centers": "センター / centres",
                  "closures": "休止期間 / closures", "categories": "分別区分 / categories",
                  "remarks": "注記 / remarks", "areas": "地区 / areas", "rules": "収集ルール / rules",
                  "items": "分別辞典 / dictionary items"}
        for key, label in labels.items():
            if key in self.counts:
                parts = ", ".join(f"{k} {v}" for k, v in self.counts[key].items())
                out.append(f"  {label}: {parts}")
        for warning in self.warnings:
            out.append(f"  注意 / warning: {warning}")
        return out

    def summary(self) -> dict:
        return {"files": self.files, "counts": self.counts, "warnings": self.warnings[:50], "seconds": round(self.seconds, 2)}


def _sync_by_key(model, key_field: str, wanted: dict[str, dict], *, deletable=None) -> tuple[dict[str, object], dict[str, int]]:
    """Upsert rows of `model` by a natural key; delete the rest (filtered by `deletable`)."""
    existing = {getattr(obj, key_field): obj for obj in model.objects.all()}
    created = updated = 0
    to_update = []
    to_create = []
    for key, values in wanted.items():
        obj = existing.get(key)
        if obj is None:
            to_create.append(model(**{key_field: key}, **values))
            continue
        if any(getattr(obj, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(obj, name, value)
            to_update.append(obj)
    if to_create:
        model.objects.bulk_create(to_create)
        created = len(to_create)
    if to_update:
        model.objects.bulk_update(to_update, fields=list(next(iter(wanted.values())).keys()))
        updated = len(to_update)
    stale = model.objects.exclude(**{f"{key_field}__in": list(wanted)})
    if deletable is not None:
        stale = deletable(stale)
    deleted = stale.count()
    stale.delete()
    rows = {getattr(obj, key_field): obj for obj in model.objects.filter(**{f"{key_field}__in": list(wanted)})}
    return rows, {"created": created, "updated": updated, "deleted": deleted}


def _area_search_key(name: str, kana: str, group_name: str | None) -> str:
    """Name, reading, and the group's name and reading: 「東与賀」 finds every area of 東与賀町."""
    return search_key(name, kana, group_name, reading(group_name) if group_name else "")


@transaction.atomic
def _apply_plan(plan: Plan) -> dict[str, dict[str, int]]:
    _lock_imports()
    counts: dict[str, dict[str, int]] = {}
    groups, counts["groups"] = _sync_by_key(
        AreaGroup, "code", {code: {"name": name, "sort_order": i} for i, (code, name) in enumerate(plan.groups.items())},
        deletable=lambda qs: qs.filter(pickup_days__isnull=True),
    )
    centers, counts["centers"] = _sync_by_key(Center, "name", {name: {} for name in plan.centers})
    closures_deleted, _ = CenterClosure.objects.all().delete()
    closures = [CenterClosure(center=centers[name], starts_on=start, ends_on=end)
                for name, periods in plan.centers.items() for start, end in periods]
    CenterClosure.objects.bulk_create(closures)
    counts["closures"] = {"created": len(closures), "deleted": closures_deleted}
    categories, counts["categories"] = _sync_by_key(
        Category, "name",
        {c.name: {"sublabel": c.sublabel, "description": c.description, "color": c.color, "icon": c.icon, "sort_order": i}
         for i, c in enumerate(plan.categories)},
    )
    remarks_deleted, _ = Remark.objects.all().delete()
    Remark.objects.bulk_create([Remark(code=code, text=text) for code, text in plan.remarks.items()])
    counts["remarks"] = {"created": len(plan.remarks), "deleted": remarks_deleted}
    areas, counts["areas"] = _sync_by_key(
        Area, "key",
        {a.key: {"name": a.name, "kana": a.kana, "kana_generated": a.kana_generated,
                  "group": groups.get(a.group_code) if a.group_code else None,
                  "center": centers.get(a.center) if a.center else None, "extra": a.extra,
                  "search_key": _area_search_key(a.name, a.kana, plan.groups.get(a.group_code or "")), "sort_order": i}
         for i, a in enumerate(plan.areas)},
    )
    rules_deleted, _ = CollectionRule.objects.all().delete()
    rules = [CollectionRule(area=areas[a.key], category=categories[name], cell=cell[:500], spec=rule.to_json())
             for a in plan.areas for name, (cell, rule) in a.rules.items() if not rule.is_empty or rule.remarks]
    CollectionRule.objects.bulk_create(rules, batch_size=2000)
    counts["rules"] = {"created": len(rules), "deleted": rules_deleted}
    if plan.items is not None:
        deleted, _ = SortingItem.objects.filter(source=SortingItem.Source.FIVE374).delete()
        items = [SortingItem(
            name=item.name[:200], kana=item.kana[:400], kana_generated=item.kana_generated,
            category=categories.get(item.category_label), category_label=item.category_label[:100],
            notice=item.notice, index_label=item.index_label[:50], source=SortingItem.Source.FIVE374,
            search_key=search_key(item.name, item.kana), sort_order=i,
        ) for i, item in enumerate(plan.items)]
        SortingItem.objects.bulk_create(items, batch_size=2000)
        counts["items"] = {"created": len(items), "deleted": deleted}
    calendar_changed()
    return counts


def calendar_import_5374(*, directory: Path, acting_user: User | None = None, dry_run: bool = False) -> ImportReport:
    """Imports a directory of 5374 files; raises ImportFailed (nothing written) on any malformed
    cell, with file, line, column and token. Parsing happens before the transaction opens."""
    started = time.perf_counter()
    plan = parse_directory(Path(directory))
    report = ImportReport(files=plan.files, warnings=plan.warnings, dry_run=dry_run)
    if dry_run:
        report.counts = {"areas": {"parsed": len(plan.areas)}, "categories": {"parsed": len(plan.categories)},
                         "rules": {"parsed": sum(len(a.rules) for a in plan.areas)}}
        if plan.items is not None:
            report.counts["items"] = {"parsed": len(plan.items)}
    else:
        with transaction.atomic():
            report.counts = _apply_plan(plan)
            report.seconds = time.perf_counter() - started
            audit_record(actor=acting_user, action="garbage.import_5374", data={"directory": str(directory), **report.summary()})
    report.seconds = time.perf_counter() - started
    return report


# --- national standard sorting dictionary -----------------------------------------------------
def sorting_import_opendata(*, raw: bytes, name: str, municipality_code: str, acting_user: User | None = None,
                            replace_all: bool = False) -> ImportReport:
    """Replaces the dictionary items that came from the national standard CSV (all items with
    `replace_all`); categories are matched by name (分別区分)."""
    started = time.perf_counter()
    plan = parse_garbage_separate(raw, name=name, municipality_code=municipality_code)
    report = ImportReport(files={name: plan.encoding}, warnings=plan.warnings)
    with transaction.atomic():
        _lock_imports()
        categories = {fold(c.name): c for c in Category.objects.all()}
        stale = SortingItem.objects.all() if replace_all else SortingItem.objects.filter(source=SortingItem.Source.OPENDATA)
        deleted, _ = stale.delete()
        unknown = sorted({item.category_label for item in plan.items if fold(item.category_label) not in categories})
        if unknown:
            report.warnings.append("分別区分がカレンダーにありません（区分名のみ表示）: " + "、".join(unknown)
                                   + " / categories not in the calendar (shown by name only)")
        items = [SortingItem(
            name=item.name[:200], kana=item.kana[:400], kana_generated=item.kana_generated, name_en=item.name_en[:200],
            category=categories.get(fold(item.category_label)), category_label=item.category_label[:100],
            notice=item.notice, remarks=item.remarks, fee=item.fee[:100], district_name=item.district_name[:100],
            external_id=item.external_id[:64], source=SortingItem.Source.OPENDATA,
            search_key=search_key(item.name, item.kana, item.name_en), sort_order=i,
        ) for i, item in enumerate(plan.items)]
        SortingItem.objects.bulk_create(items, batch_size=2000)
        report.counts = {"items": {"created": len(items), "deleted": deleted}}
        report.seconds = time.perf_counter() - started
        audit_record(actor=acting_user, action="garbage.import_opendata", data={"file": name, **report.summary()})
    return report


# --- staff edits ------------------------------------------------------------------------------
@transaction.atomic
def category_update(*, category: Category, acting_user: User, color: str, sublabel: str, description: str,
                    sort_order: int) -> Category:
    before = {"color": category.color, "sublabel": category.sublabel, "sort_order": category.sort_order}
    category.color, category.sublabel, category.description, category.sort_order = color.lower(), sublabel, description, sort_order
    category.save(update_fields=["color", "sublabel", "description", "sort_order"])
    audit_record(actor=acting_user, action="garbage.category_updated", target=category,
                 data={"name": category.name, "before": before})
    calendar_changed()
    return category


@transaction.atomic
def collection_change_create(*, date: date, action: str, acting_user: User, category: Category | None = None,
                             area: Area | None = None, group: AreaGroup | None = None, new_date: date | None = None,
                             note: str = "") -> CollectionChange:
    if action not in CollectionChange.Action.values:
        raise _field_error("action", "cancel / add / move のいずれかです", "must be cancel, add or move")
    if area is not None and group is not None:
        raise _field_error("group", "地区と地区グループの両方は指定できません", "give an area or a group, not both")
    if action == CollectionChange.Action.MOVE:
        if new_date is None:
            raise _field_error("new_date", "振替先の日付を指定してください", "a move needs the new date")
        if new_date == date:
            raise _field_error("new_date", "振替先が元の日付と同じです", "the new date equals the original date")
    elif new_date is not None:
        raise _field_error("new_date", "振替先は「振替」のときだけ指定します", "new_date is only for a move")
    if action == CollectionChange.Action.ADD and category is None:
        raise _field_error("category", "追加収集には分別区分を指定してください", "an extra collection needs a category")
    today = timezone.localdate()
    if not today - timedelta(days=366) <= date <= today + timedelta(days=2 * 366):
        raise _field_error("date", "日付は前後2年以内にしてください", "the date must be within about two years")
    change = CollectionChange.objects.create(date=date, action=action, new_date=new_date, category=category, area=area,
                                             group=group, note=note.strip()[:200], created_by=acting_user)
    audit_record(actor=acting_user, action="garbage.change_created", target=change,
                 data={"date": date.isoformat(), "action": action, "new_date": new_date.isoformat() if new_date else None,
                       "category": category.name if category else None, "area": area.name if area else None,
                       "group": group.name if group else None})
    calendar_changed()
    return change


@transaction.atomic
def collection_change_delete(*, change: CollectionChange, acting_user: User) -> None:
    audit_record(actor=acting_user, action="garbage.change_deleted", target=change,
                 data={"date": change.date.isoformat(), "action": change.action})
    change.delete()
    calendar_changed()


# --- reminders --------------------------------------------------------------------------------
@transaction.atomic
def reminder_set(*, user: User, area: Area, category_ids: list[int] | None, timing: str, time: dtime | None = None,
                 enabled: bool = True) -> Reminder:
    """Creates or replaces the resident's reminder. `category_ids` empty or None: every category."""
    ids = sorted(set(category_ids or []))
    if ids:
        known = set(Category.objects.filter(id__in=ids).values_list("id", flat=True))
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise _field_error("categories", f"不明な分別区分です: {unknown}", f"unknown categories: {unknown}")
    when = time if time is not None else DEFAULT_TIMES[timing]
    when = when.replace(second=0, microsecond=0, tzinfo=None)
    first_hour, last_hour = REMINDER_HOURS[timing]
    if not first_hour <= when.hour <= last_hour:
        label = "前日の夜" if timing == Reminder.Timing.EVENING_BEFORE else "当日の朝"
        raise _field_error("time", f"{label}の通知は{first_hour}:00〜{last_hour}:59の間で指定してください",
                           f"{timing} reminders must be between {first_hour}:00 and {last_hour}:59")
    reminder, _created = Reminder.objects.update_or_create(
        user=user, defaults={"area": area, "category_ids": ids, "timing": timing, "time": when, "enabled": enabled},
    )
    return reminder


# --- oversized garbage ------------------------------------------------------------------------
@transaction.atomic
def pickup_item_type_save(*, acting_user: User, name: str, fee: int, name_en: str = "", active: bool = True,
                          item_type: PickupItemType | None = None) -> PickupItemType:
    name = name.strip()
    clash = PickupItemType.objects.filter(name=name)
    if item_type is not None:
        clash = clash.exclude(pk=item_type.pk)
    if clash.exists():
        raise _field_error("name", "同じ品目が既にあります", "an item type with this name exists", code="conflict", status_code=409)
    if item_type is None:
        item_type = PickupItemType(sort_order=PickupItemType.objects.count())
    item_type.name, item_type.name_en, item_type.fee, item_type.active = name, name_en.strip(), fee, active
    item_type.save()
    audit_record(actor=acting_user, action="garbage.item_type_saved", target=item_type, data={"name": name, "fee": fee})
    return item_type


@transaction.atomic
def pickup_day_create(*, acting_user: User, date: date, group: AreaGroup, capacity: int, note: str = "") -> PickupDay:
    if date < timezone.localdate():
        raise _field_error("date", "過去の日付は指定できません", "the date is in the past")
    if capacity < 1:
        raise _field_error("capacity", "受付上限は1点以上です", "capacity must be at least 1")
    if PickupDay.objects.filter(date=date, group=group).exists():
        raise _field_error("date", "この日のこの地区グループの収集日は既にあります", "a pickup day for this group and date exists",
                           code="conflict", status_code=409)
    day = PickupDay.objects.create(date=date, group=group, capacity=capacity, note=note.strip()[:200])
    audit_record(actor=acting_user, action="garbage.pickup_day_created", target=day,
                 data={"date": date.isoformat(), "group": group.name, "capacity": capacity})
    return day


@transaction.atomic
def pickup_day_set_capacity(*, acting_user: User, day: PickupDay, capacity: int) -> PickupDay:
    """Capacity can shrink only down to what is already booked (one conditional UPDATE)."""
    updated = PickupDay.objects.filter(pk=day.pk, booked_items__lte=capacity).update(capacity=capacity)
    if not updated:
        raise _field_error("capacity", "予約済みの点数より少なくはできません", "capacity cannot go below the items already booked",
                           code="conflict", status_code=409)
    day.refresh_from_db()
    audit_record(actor=acting_user, action="garbage.pickup_day_capacity", target=day, data={"capacity": capacity})
    return day


@dataclass(frozen=True)
class BookingLine:
    item_type: PickupItemType
    quantity: int


def _reserve(day: PickupDay, items: int) -> int | None:
    """Adds `items` to the day's bookings only if they fit; returns the booking sequence number,
    or None when the day is full. A single conditional UPDATE: concurrent bookings serialise on the
    row lock and each sees the other's count, so the capacity can never be exceeded."""
    table = PickupDay._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" SET booked_items = booked_items + %s, bookings_made = bookings_made + 1 '
            f"WHERE id = %s AND booked_items + %s <= capacity RETURNING bookings_made",
            [items, day.pk, items],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def booking_number(day: PickupDay, sequence: int) -> str:
    return f"{day.date:%y%m%d}-{day.pk}-{sequence:03d}"


@transaction.atomic
def booking_create(*, user: User, pickup_day: PickupDay, area: Area, lines: list[BookingLine], address: str,
                   phone: str = "", note: str = "") -> Booking:
    if not lines:
        raise _field_error("items", "品目を1つ以上指定してください", "book at least one item")
    count = sum(line.quantity for line in lines)
    if any(line.quantity < 1 for line in lines):
        raise _field_error("items", "数量は1以上です", "quantities must be at least 1")
    if count > MAX_ITEMS_PER_BOOKING:
        raise _field_error("items", f"1回の予約は{MAX_ITEMS_PER_BOOKING}点までです",
                           f"at most {MAX_ITEMS_PER_BOOKING} items per booking")
    if any(not line.item_type.active for line in lines):
        raise _field_error("items", "受付を終了した品目が含まれています", "an item type is no longer accepted")
    if area.group_id != pickup_day.group_id:
        raise _field_error("area", "この地区はこの収集日の対象ではありません", "this area is not served on this pickup day")
    if not address.strip():
        raise _field_error("address", "収集場所（住所）を入力してください", "the pickup address is required")
    today = timezone.localdate()
    if pickup_day.date < today:
        raise ApiError("pickup_day_past", status_code=409)
    if today > booking_cutoff(pickup_day.date):
        raise ApiError("booking_closed", status_code=409,
                       fields={"pickup_day": [f"{booking_cutoff(pickup_day.date):%Y-%m-%d}"]})
    sequence = _reserve(pickup_day, count)
    if sequence is None:
        raise ApiError("pickup_day_full", status_code=409)
    booking = Booking.objects.create(
        number=booking_number(pickup_day, sequence), user=user, pickup_day=pickup_day, area=area, area_name=area.name,
        address=address.strip()[:200], phone=phone.strip()[:20], note=note.strip()[:200], item_count=count,
        total_fee=sum(line.item_type.fee * line.quantity for line in lines),
    )
    BookingItem.objects.bulk_create([
        BookingItem(booking=booking, item_type=line.item_type, name=line.item_type.name, quantity=line.quantity,
                    fee_each=line.item_type.fee) for line in lines
    ])
    return booking


@transaction.atomic
def booking_cancel(*, booking: Booking, acting_user: User) -> Booking:
    """Residents cancel until the cut-off; staff at any time. The status flip is conditional, so a
    double cancel never gives the capacity back twice."""
    is_staff = acting_user.kind == User.Kind.STAFF
    if booking.status == Booking.Status.CANCELLED:
        raise ApiError("booking_already_cancelled", status_code=409)
    if not is_staff and timezone.localdate() > booking_cutoff(booking.pickup_day.date):
        raise ApiError("cancellation_closed", status_code=409)
    now = timezone.now()
    flipped = Booking.objects.filter(pk=booking.pk, status=Booking.Status.BOOKED).update(
        status=Booking.Status.CANCELLED, cancelled_at=now)
    if not flipped:
        raise ApiError("booking_already_cancelled", status_code=409)
    PickupDay.objects.filter(pk=booking.pickup_day_id).update(booked_items=F("booked_items") - booking.item_count)
    booking.status, booking.cancelled_at = Booking.Status.CANCELLED, now
    if is_staff:
        audit_record(actor=acting_user, action="garbage.booking_cancelled", target=booking, data={"number": booking.number})
    return booking

