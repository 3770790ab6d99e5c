"""Garbage calendar of one municipality: areas and their collection rules (5374 data), categories,
centre closures, staff one-off changes, the sorting dictionary, residents' reminders, and
oversized-garbage (粗大ごみ) pickup days and bookings."""
from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q

from .rules import DayRule


class AreaGroup(models.Model):
    """A group of areas (Saga's マスター / 区名); oversized-garbage pickup days are per group."""

    code = models.CharField("コード", max_length=32, unique=True)
    name = models.CharField("名称", max_length=100)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class Center(models.Model):
    """A collection centre (清掃工場); its closures suspend collection in the areas it serves."""

    name = models.CharField("名称", max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class CenterClosure(models.Model):
    center = models.ForeignKey(Center, on_delete=models.CASCADE, related_name="closures")
    starts_on = models.DateField("休止開始日")
    ends_on = models.DateField("休止終了日")

    class Meta:
        ordering = ["starts_on"]
        constraints = [models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="garbage_closure_order")]


class Area(models.Model):
    """One row of area_days.csv (地名): the unit a resident picks."""

    # The same 地名 can appear in two groups (Saga has 新村 in both 川副町 and 東与賀町): the natural key
    # of an import is "<group code>:<name>" (just the name when the file has no groups).
    key = models.CharField(max_length=300, unique=True)
    name = models.CharField("地名", max_length=200)
    kana = models.CharField("よみ", max_length=400, blank=True)
    kana_generated = models.BooleanField(default=False, help_text="True when the reading was generated, not imported")
    group = models.ForeignKey(AreaGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="areas")
    center = models.ForeignKey(Center, null=True, blank=True, on_delete=models.SET_NULL, related_name="areas")
    extra = models.JSONField("その他の列", default=dict, blank=True)
    search_key = models.TextField(default="", editable=False)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    """A garbage category (燃えるごみ, …): one column of area_days.csv, one row of description.csv."""

    name = models.CharField("名称", max_length=100, unique=True)
    sublabel = models.CharField("副題", max_length=200, blank=True)
    description = models.TextField("説明（HTML）", blank=True)
    color = models.CharField("色", max_length=7, default="#666666")
    icon = models.CharField("アイコン", max_length=200, blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class Remark(models.Model):
    """remarks.csv: notes day cells reference as `*ID`."""

    code = models.CharField("ID", max_length=32, unique=True)
    text = models.TextField("注意事項")


class CollectionRule(models.Model):
    """The parsed day cell of one area and category; `cell` keeps the source text."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="rules")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="rules")
    cell = models.CharField("元の記述", max_length=500, blank=True)
    spec = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["area", "category"], name="garbage_rule_unique")]

    @property
    def day_rule(self) -> DayRule:
        cached = getattr(self, "_day_rule", None)
        if cached is None:
            cached = self._day_rule = DayRule.from_json(self.spec)
        return cached


class CollectionChange(models.Model):
    """A staff one-off change that overrides the rule for a date (a holiday shift, a cancelled day,
    an extra day). Scope: one area, one area group, or every area; one category or all."""

    class Action(models.TextChoices):
        CANCEL = "cancel", "中止 / Cancel"
        ADD = "add", "追加 / Add"
        MOVE = "move", "振替 / Move"

    date = models.DateField("対象日")
    action = models.CharField(max_length=8, choices=Action.choices)
    new_date = models.DateField("振替先", null=True, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    group = models.ForeignKey(AreaGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    note = models.CharField("お知らせ", max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "id"]
        indexes = [models.Index(fields=["date"]), models.Index(fields=["new_date"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(action="move", new_date__isnull=False) | (~Q(action="move") & Q(new_date__isnull=True))),
                name="garbage_change_move_has_new_date",
            ),
            models.CheckConstraint(condition=~(Q(area__isnull=False) & Q(group__isnull=False)),
                                   name="garbage_change_one_scope"),
        ]


class SortingItem(models.Model):
    """The sorting dictionary (分別辞典): an item, its category and notes."""

    class Source(models.TextChoices):
        FIVE374 = "5374", "5374 target.csv"
        OPENDATA = "opendata", "ゴミの分別方法一覧 (自治体標準オープンデータセット)"
        STAFF = "staff", "職員入力 / Staff"

    name = models.CharField("品目", max_length=200)
    kana = models.CharField("品目カナ", max_length=400, blank=True)
    kana_generated = models.BooleanField(default=False)
    name_en = models.CharField("品目英字", max_length=200, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="items")
    category_label = models.CharField("分別区分", max_length=100)
    notice = models.TextField("注意点", blank=True)
    remarks = models.TextField("備考", blank=True)
    fee = models.CharField("粗大ごみ回収料金", max_length=100, blank=True)
    index_label = models.CharField("索引", max_length=50, blank=True)
    district_name = models.CharField("地区名", max_length=100, blank=True)
    external_id = models.CharField("ID", max_length=64, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    search_key = models.TextField(default="", editable=False)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]
        indexes = [models.Index(fields=["source"])]


class Reminder(models.Model):
    """A resident's reminder: area, categories (empty = all) and when."""

    class Timing(models.TextChoices):
        EVENING_BEFORE = "evening_before", "前日の夜 / The evening before"
        MORNING_OF = "morning_of", "当日の朝 / The morning of"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="garbage_reminder")
    area = models.ForeignKey(Area, null=True, on_delete=models.SET_NULL, related_name="reminders")
    category_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    timing = models.CharField(max_length=16, choices=Timing.choices, default=Timing.EVENING_BEFORE)
    time = models.TimeField()
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["timing", "time"], name="garbage_reminder_due",
                                condition=Q(enabled=True, area__isnull=False))]


class ReminderDispatch(models.Model):
    """Idempotency record: one row per reminder group (area, timing, time, categories) and collection
    date. A tick that runs twice or late finds the row and sends nothing again."""

    collection_date = models.DateField()
    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="+")
    timing = models.CharField(max_length=16, choices=Reminder.Timing.choices)
    time = models.TimeField()
    categories_key = models.CharField(max_length=200)  # sorted category ids of the group, "" = all
    recipients = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=200, blank=True)
    body = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["collection_date", "area", "timing", "time", "categories_key"],
                                               name="garbage_dispatch_once")]


class PickupItemType(models.Model):
    """An oversized-garbage item type and its fee (円 per item)."""

    name = models.CharField("品目", max_length=100, unique=True)
    name_en = models.CharField("English", max_length=100, blank=True)
    fee = models.PositiveIntegerField("手数料（円）")
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class PickupDay(models.Model):
    """A pickup day for one area group with a capacity in items. `booked_items` only changes through
    a conditional UPDATE (see services.booking_create), so it can never pass the capacity."""

    date = models.DateField("収集日")
    group = models.ForeignKey(AreaGroup, on_delete=models.PROTECT, related_name="pickup_days")
    capacity = models.PositiveIntegerField("受付上限（点）")
    booked_items = models.PositiveIntegerField(default=0)
    bookings_made = models.PositiveIntegerField(default=0)  # sequence for booking numbers
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date", "group__sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["date", "group"], name="garbage_pickup_day_unique"),
            models.CheckConstraint(condition=Q(booked_items__lte=F("capacity")), name="garbage_pickup_not_overbooked"),
        ]

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.booked_items, 0)


class Booking(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "予約済み / Booked"
        CANCELLED = "cancelled", "取消 / Cancelled"

    number = models.CharField("受付番号", max_length=32, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="garbage_bookings")
    pickup_day = models.ForeignKey(PickupDay, on_delete=models.PROTECT, related_name="bookings")
    area = models.ForeignKey(Area, null=True, on_delete=models.SET_NULL, related_name="+")
    area_name = models.CharField(max_length=200)
    address = models.CharField("収集場所（住所）", max_length=200)
    phone = models.CharField("電話番号", max_length=20, blank=True)
    note = models.CharField("備考", max_length=200, blank=True)
    item_count = models.PositiveIntegerField()
    total_fee = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["pickup_day", "status"])]


class BookingItem(models.Model):
    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="items")
    item_type = models.ForeignKey(PickupItemType, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)  # the item type's name when booked
    quantity = models.PositiveIntegerField()
    fee_each = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
