"""The collection engine: which categories are collected in an area on which dates.

Order of application, for each category of the area:
1. the 5374 rule (weekday, n-th weekday, every-other-week, explicit dates, month restriction);
2. the area's centre closures remove dates (e.g. 12/30-1/3);
3. staff one-off changes, general before specific (every area, then the area's group, then the area
   itself), oldest first: `cancel` removes the date, `add` adds it, `move` takes a date the rule
   collects on (even one a closure removed) and puts it on `new_date`. Staff changes win over closures.

Dates are calendar dates in Asia/Tokyo. The engine works on preloaded data (`CalendarData`) so one
area's year and a whole city's tomorrow cost the same few queries.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q

from .models import Area, CenterClosure, Category, CollectionChange, CollectionRule, Remark
from .rules import DayRule

MAX_RANGE_DAYS = 400
NEXT_HORIZON_DAYS = 400


@dataclass(frozen=True)
class Collection:
    date: date
    category: Category
    note: str | None


@dataclass
class CalendarData:
    """Everything the engine needs for a set of areas over a date range."""

    rules: dict[int, list[tuple[Category, DayRule]]] = field(default_factory=dict)  # area id → rules
    closures: dict[int, list[tuple[date, date]]] = field(default_factory=dict)  # centre id → periods
    changes: list[CollectionChange] = field(default_factory=list)
    remarks: dict[str, str] = field(default_factory=dict)


def load_calendar_data(*, areas: list[Area], start: date, end: date, category_ids: set[int] | None = None) -> CalendarData:
    """Three or four queries whatever the number of areas: rules (with categories), closures,
    changes touching the range, and remarks when a rule references one."""
    data = CalendarData()
    area_ids = [area.id for area in areas]
    rules = CollectionRule.objects.filter(area_id__in=area_ids).select_related("category")
    if category_ids is not None:
        rules = rules.filter(category_id__in=category_ids)
    needs_remarks = False
    for rule in rules.order_by("category__sort_order", "category_id"):
        day_rule = rule.day_rule
        needs_remarks = needs_remarks or bool(day_rule.remarks)
        data.rules.setdefault(rule.area_id, []).append((rule.category, day_rule))
    center_ids = {area.center_id for area in areas if area.center_id}
    if center_ids:
        for closure in CenterClosure.objects.filter(center_id__in=center_ids, starts_on__lte=end, ends_on__gte=start):
            data.closures.setdefault(closure.center_id, []).append((closure.starts_on, closure.ends_on))
    group_ids = {area.group_id for area in areas if area.group_id}
    scope = Q(area__isnull=True, group__isnull=True) | Q(area_id__in=area_ids)
    if group_ids:
        scope |= Q(group_id__in=group_ids)
    data.changes = list(
        CollectionChange.objects.filter(scope)
        .filter(Q(date__range=(start, end)) | Q(new_date__range=(start, end)))
        .order_by("id")
    )
    if needs_remarks:
        data.remarks = dict(Remark.objects.values_list("code", "text"))
    return data


def _scope_rank(change: CollectionChange) -> int:
    if change.area_id:
        return 2
    if change.group_id:
        return 1
    return 0


def compute(*, area: Area, start: date, end: date, data: CalendarData) -> list[Collection]:
    """Collections of one area in [start, end], sorted by date then category order."""
    closures = data.closures.get(area.center_id, []) if area.center_id else []
    changes = sorted(
        (c for c in data.changes
         if (c.area_id is None and c.group_id is None) or c.area_id == area.id
         or (c.group_id is not None and c.group_id == area.group_id)),
        key=lambda c: (_scope_rank(c), c.id),
    )
    result: list[Collection] = []
    for order, (category, rule) in enumerate(data.rules.get(area.id, [])):
        remark_text = "\n".join(data.remarks[r] for r in rule.remarks if r in data.remarks) or None
        days: dict[date, str | None] = {}
        for day in rule.dates_between(start, end):
            if not any(first <= day <= last for first, last in closures):
                days[day] = remark_text
        for change in changes:
            if change.category_id is not None and change.category_id != category.id:
                continue
            note = change.note or None
            if change.action == CollectionChange.Action.CANCEL:
                days.pop(change.date, None)
            elif change.action == CollectionChange.Action.ADD:
                if start <= change.date <= end:
                    days[change.date] = _join(note, remark_text)
            elif change.action == CollectionChange.Action.MOVE and rule.occurs_on(change.date):
                days.pop(change.date, None)
                if start <= change.new_date <= end:
                    days[change.new_date] = _join(note, remark_text)
        result.extend(Collection(day, category, text) for day, text in days.items())
    category_order = {category.id: i for i, (category, _rule) in enumerate(data.rules.get(area.id, []))}
    result.sort(key=lambda c: (c.date, category_order[c.category.id]))
    return result


def _join(*parts: str | None) -> str | None:
    text = "\n".join(p for p in parts if p)
    return text or None


def area_collections(*, area: Area, start: date, end: date, category_ids: set[int] | None = None) -> list[Collection]:
    data = load_calendar_data(areas=[area], start=start, end=end, category_ids=category_ids)
    return compute(area=area, start=start, end=end, data=data)


def area_next(*, area: Area, today: date) -> list[Collection]:
    """The next collection (today included) of each category of the area, soonest first.
    Looks a month ahead first and further only for categories not found yet."""
    near_end = today + timedelta(days=31)
    data = load_calendar_data(areas=[area], start=today, end=today + timedelta(days=NEXT_HORIZON_DAYS))
    first: dict[int, Collection] = {}
    for window_start, window_end in ((today, near_end), (near_end + timedelta(days=1), today + timedelta(days=NEXT_HORIZON_DAYS))):
        for collection in compute(area=area, start=window_start, end=window_end, data=data):
            first.setdefault(collection.category.id, collection)
        if len(first) == len(data.rules.get(area.id, [])):
            break
    order = {category.id: i for i, (category, _rule) in enumerate(data.rules.get(area.id, []))}
    return sorted(first.values(), key=lambda c: (c.date, order[c.category.id]))


def collections_on(*, areas: list[Area], day: date, data: CalendarData | None = None) -> dict[int, list[Collection]]:
    """Every area's collections on one date (the reminder tick), with one data load for all areas."""
    data = data or load_calendar_data(areas=areas, start=day, end=day)
    return {area.id: compute(area=area, start=day, end=day, data=data) for area in areas}
