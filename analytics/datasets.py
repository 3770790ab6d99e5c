"""The export datasets: what an analyst can take to Tableau, pandas or Excel.

Each dataset is one SQL SELECT over the fact tables (or, for `usage_events`, the raw events) with
its columns declared once: name, type (which decides the CSV formatting, the Parquet and the Hyper
column types) and labels. Suppression is written into the SQL with the helpers of `privacy`, so a
small count never leaves the database. No dataset has names, addresses or tokens, except the named
operational lists (`named_list=True`), which only a municipality admin may export, with a stated
purpose, and which are audited.

A dataset whose source app is not installed stays in the registry, marked unavailable, so the
console and the API say why it cannot be exported rather than pretending it does not exist.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.apps import apps
from django.conf import settings

from accounts.models import District

from .facts import local_midnight, model_table
from .models import ActiveResidentsFact, AttendanceFact, CheckInFact, FeedbackFact, PushFact, UsageFact
from .privacy import any_small_sql, gated_sql, suppressed_sql

TYPES = ("text", "int", "float", "date", "timestamp", "bool")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    label_ja: str
    label_en: str
    person_count: bool = False  # a count of people: suppressed below the threshold

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class Parameter:
    name: str
    label_ja: str
    label_en: str
    required: bool = False


@dataclass(frozen=True)
class QueryContext:
    date_from: date | None
    date_to: date | None
    threshold: int
    parameters: dict = field(default_factory=dict)

    @property
    def start(self) -> datetime | None:
        return local_midnight(self.date_from) if self.date_from else None

    @property
    def end(self) -> datetime | None:
        return local_midnight(self.date_to + timedelta(days=1)) if self.date_to else None

    def params(self, **extra) -> dict:
        return {"tz": settings.TIME_ZONE, "k": self.threshold, "d0": self.date_from, "d1": self.date_to,
                "start": self.start, "end": self.end, **extra}


@dataclass(frozen=True)
class Dataset:
    key: str
    title_ja: str
    title_en: str
    description_ja: str
    description_en: str
    columns: tuple[Column, ...]
    requires: tuple[str, ...]
    query: Callable[[QueryContext], tuple[str, dict]]
    # A cheap count of the rows `query` returns (the progress bar's denominator).
    count: Callable[[QueryContext], tuple[str, dict]]
    fact: str | None = None  # the fact table behind it, when it reads one
    named_list: bool = False
    range_required: bool = True
    parameters: tuple[Parameter, ...] = ()

    def available(self) -> bool:
        return all(apps.is_installed(app) for app in self.requires)

    @property
    def schedulable(self) -> bool:
        return not self.named_list

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


_registry: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    if dataset.key in _registry and _registry[dataset.key] is not dataset:
        raise ValueError(f"dataset {dataset.key!r} is already registered")
    names = dataset.column_names
    if len(names) != len(set(names)):
        raise ValueError(f"dataset {dataset.key!r} has duplicate column names")
    _registry[dataset.key] = dataset
    return dataset


def all_datasets() -> list[Dataset]:
    return list(_registry.values())


def get_dataset(key: str) -> Dataset | None:
    return _registry.get(key)


# --- Shared pieces of SQL ---------------------------------------------------------------------
AGE_BAND_SQL = "(CASE WHEN {col} IS NULL THEN NULL WHEN {col} >= 80 THEN '80+' ELSE {col} || '-' || ({col} + 9) END)"


def age_band_label_sql(column: str) -> str:
    return AGE_BAND_SQL.format(col=column)


def miniapp_names() -> tuple[list[str], list[str]]:
    """Ids and Japanese names of the mini-apps in this municipality's catalog (for a VALUES join)."""
    if not apps.is_installed("miniapps"):
        return [], []
    from miniapps.selectors import catalog_items

    items = catalog_items()
    return [item.id for item in items], [item.name for item in items]


def _miniapp_join(alias: str, column: str) -> str:
    return (f"LEFT JOIN unnest(%(app_ids)s::text[], %(app_names)s::text[]) AS {alias}(id, name) "
            f"ON {alias}.id = {column}")


def _with_names(ctx: QueryContext, **extra) -> dict:
    ids, names = miniapp_names()
    return ctx.params(app_ids=ids, app_names=names, **extra)


def _fact_count(table: str) -> Callable[[QueryContext], tuple[str, dict]]:
    def count(ctx: QueryContext) -> tuple[str, dict]:
        return f"SELECT count(*) FROM {table} WHERE day >= %(d0)s AND day <= %(d1)s", ctx.params()
    return count


DISTRICT = District._meta.db_table
SUPPRESSED = Column("suppressed", "bool", "秘匿あり", "Suppressed",)


# --- usage_daily --------------------------------------------------------------------------------
def _usage_daily(ctx: QueryContext) -> tuple[str, dict]:
    sql = f"""
    SELECT f.day, f.miniapp_id, coalesce(m.name, f.miniapp_id) AS miniapp_name, d.name AS district,
           {age_band_label_sql('f.age_band')} AS age_band,
           {gated_sql('f.opens', 'f.users')} AS opens, {gated_sql('f.taps', 'f.users')} AS taps,
           {suppressed_sql('f.users')} AS users, {any_small_sql('f.users', 'f.opens', 'f.taps')} AS suppressed
    FROM {UsageFact._meta.db_table} f
    LEFT JOIN {DISTRICT} d ON d.id = f.district_id
    {_miniapp_join('m', 'f.miniapp_id')}
    WHERE f.day >= %(d0)s AND f.day <= %(d1)s
    ORDER BY f.day, f.miniapp_id, f.district_id NULLS LAST, f.age_band NULLS LAST
    """
    return sql, _with_names(ctx)


USAGE_DAILY = register(Dataset(
    key="usage_daily",
    title_ja="ミニアプリ利用（日別）", title_en="Mini-app usage (daily)",
    description_ja="日・ミニアプリ・校区・年代ごとの起動回数、タップ数、利用者数。利用者数が閾値未満の行は件数を秘匿します。",
    description_en="Opens, taps and distinct residents per day, mini-app, district and age band. Rows with "
                   "fewer residents than the threshold have their counts suppressed.",
    columns=(
        Column("day", "date", "日付", "Day"),
        Column("miniapp_id", "text", "ミニアプリID", "Mini-app ID"),
        Column("miniapp_name", "text", "ミニアプリ名", "Mini-app"),
        Column("district", "text", "校区", "District"),
        Column("age_band", "text", "年代", "Age band"),
        Column("opens", "int", "起動回数", "Opens", person_count=True),
        Column("taps", "int", "タップ数", "Taps", person_count=True),
        Column("users", "int", "利用者数", "Residents", person_count=True),
        SUPPRESSED,
    ),
    requires=("miniapps",), query=_usage_daily, count=_fact_count(UsageFact._meta.db_table), fact="usage",
))


# --- active_residents ---------------------------------------------------------------------------
def _active_residents(ctx: QueryContext) -> tuple[str, dict]:
    sql = f"""
    SELECT f.day, d.name AS district, {age_band_label_sql('f.age_band')} AS age_band,
           {suppressed_sql('f.active_residents')} AS active_residents,
           {any_small_sql('f.active_residents')} AS suppressed
    FROM {ActiveResidentsFact._meta.db_table} f LEFT JOIN {DISTRICT} d ON d.id = f.district_id
    WHERE f.day >= %(d0)s AND f.day <= %(d1)s
    ORDER BY f.day, f.district_id NULLS LAST, f.age_band NULLS LAST
    """
    return sql, ctx.params()


ACTIVE_RESIDENTS = register(Dataset(
    key="active_residents",
    title_ja="アクティブ住民数（日別）", title_en="Active residents (daily)",
    description_ja="いずれかのミニアプリを使った住民の数（日・校区・年代ごと）。",
    description_en="Residents who used any mini-app, per day, district and age band.",
    columns=(
        Column("day", "date", "日付", "Day"),
        Column("district", "text", "校区", "District"),
        Column("age_band", "text", "年代", "Age band"),
        Column("active_residents", "int", "アクティブ住民数", "Active residents", person_count=True),
        SUPPRESSED,
    ),
    requires=("miniapps",), query=_active_residents, count=_fact_count(ActiveResidentsFact._meta.db_table),
    fact="usage",
))


# --- usage_events (microdata) -------------------------------------------------------------------
def _usage_events(ctx: QueryContext) -> tuple[str, dict]:
    events = model_table("miniapps", "UsageEvent")
    usage_event = apps.get_model("miniapps", "UsageEvent")
    # k-anonymity on the quasi-identifiers: a district is shown only where at least k residents used
    # the app in the period, an age band only where (district, age band) has at least k. No resident
    # id at all. The groups come from one hashed DISTINCT over the period's (district, age band,
    # resident) triples; rows stream in storage (arrival) order, without a sort.
    sql = f"""
    WITH people AS MATERIALIZED (
        SELECT DISTINCT coalesce(district_id, -1) AS district_key, coalesce(age_band, -1) AS age_key, user_id
        FROM {events} WHERE occurred_at >= %(start)s AND occurred_at < %(end)s
    ), groups AS (
        SELECT district_key, age_key, count(*) AS people FROM people GROUP BY 1, 2
    ), districts AS (
        SELECT district_key, count(DISTINCT user_id) AS people FROM people GROUP BY 1
    )
    SELECT (ev.occurred_at AT TIME ZONE %(tz)s) AS occurred_at, (ev.occurred_at AT TIME ZONE %(tz)s)::date AS day,
           ev.miniapp_id, coalesce(m.name, ev.miniapp_id) AS miniapp_name,
           CASE ev.kind WHEN %(opened)s THEN 'opened' WHEN %(tapped)s THEN 'tapped' END AS event,
           CASE WHEN ds.people >= %(k)s THEN d.name END AS district,
           CASE WHEN g.people >= %(k)s THEN {age_band_label_sql('ev.age_band')} END AS age_band,
           (g.people < %(k)s) AS generalized
    FROM {events} ev
    JOIN groups g ON g.district_key = coalesce(ev.district_id, -1) AND g.age_key = coalesce(ev.age_band, -1)
    JOIN districts ds ON ds.district_key = coalesce(ev.district_id, -1)
    LEFT JOIN {DISTRICT} d ON d.id = ev.district_id
    {_miniapp_join('m', 'ev.miniapp_id')}
    WHERE ev.occurred_at >= %(start)s AND ev.occurred_at < %(end)s
    """
    return sql, _with_names(ctx, opened=usage_event.Kind.OPENED.value, tapped=usage_event.Kind.TAPPED.value)


def _usage_events_count(ctx: QueryContext) -> tuple[str, dict]:
    events = model_table("miniapps", "UsageEvent")
    return f"SELECT count(*) FROM {events} WHERE occurred_at >= %(start)s AND occurred_at < %(end)s", ctx.params()


USAGE_EVENTS = register(Dataset(
    key="usage_events",
    title_ja="ミニアプリ利用イベント（明細）", title_en="Mini-app usage events (one row per event)",
    description_ja="起動・タップ1件ごとの明細（端末の日時）。住民IDは含みません。利用者が閾値未満の校区・年代は空欄に置き換えます（generalized）。",
    description_en="One row per open or tap (device time), without any resident id. Districts and age bands "
                   "with fewer residents than the threshold are blanked (generalized).",
    columns=(
        Column("occurred_at", "timestamp", "日時", "Time"),
        Column("day", "date", "日付", "Day"),
        Column("miniapp_id", "text", "ミニアプリID", "Mini-app ID"),
        Column("miniapp_name", "text", "ミニアプリ名", "Mini-app"),
        Column("event", "text", "種別", "Event"),
        Column("district", "text", "校区", "District"),
        Column("age_band", "text", "年代", "Age band"),
        Column("generalized", "bool", "秘匿のため一般化", "Generalized for privacy"),
    ),
    requires=("miniapps",), query=_usage_events, count=_usage_events_count,
))


# --- push_stats ---------------------------------------------------------------------------------
PUSH_COUNTS = ("targeted", "sent", "failed", "read", "opened")


def _push_stats(ctx: QueryContext) -> tuple[str, dict]:
    counts = ", ".join(f"{suppressed_sql('f.' + name)} AS {name}" for name in PUSH_COUNTS)
    sql = f"""
    SELECT f.day, f.notification_id, f.topic, f.mode, f.title, {counts},
           CASE WHEN {any_small_sql('f.sent', 'f.opened')} OR f.sent = 0 THEN NULL
                ELSE round(f.opened::numeric / f.sent, 4)::float8 END AS open_rate,
           {any_small_sql(*('f.' + name for name in PUSH_COUNTS))} AS suppressed
    FROM {PushFact._meta.db_table} f
    WHERE f.day >= %(d0)s AND f.day <= %(d1)s
    ORDER BY f.day, f.notification_id
    """
    return sql, ctx.params()


PUSH_STATS = register(Dataset(
    key="push_stats",
    title_ja="プッシュ通知の配信・開封", title_en="Push notifications: delivery and opens",
    description_ja="配信したお知らせごとの対象端末数、送信成功・失敗数、既読・開封した住民数。",
    description_en="Per notification: devices targeted, sent and failed; residents who read and opened it.",
    columns=(
        Column("day", "date", "配信日", "Day sent"),
        Column("notification_id", "int", "お知らせID", "Notification ID"),
        Column("topic", "text", "分類", "Topic"),
        Column("mode", "text", "配信方式", "Mode"),
        Column("title", "text", "件名", "Title"),
        Column("targeted", "int", "対象端末数", "Devices targeted", person_count=True),
        Column("sent", "int", "送信成功", "Sent", person_count=True),
        Column("failed", "int", "送信失敗", "Failed", person_count=True),
        Column("read", "int", "既読", "Read", person_count=True),
        Column("opened", "int", "開封", "Opened", person_count=True),
        Column("open_rate", "float", "開封率", "Open rate"),
        SUPPRESSED,
    ),
    requires=("notifications",), query=_push_stats, count=_fact_count(PushFact._meta.db_table), fact="push",
))


# --- shelter_checkins ---------------------------------------------------------------------------
CHECKIN_COUNTS = ("check_ins", "households", "qr_check_ins", "special_care", "pets", "checked_out")


def _shelter_checkins(ctx: QueryContext) -> tuple[str, dict]:
    counts = ", ".join(f"{suppressed_sql('f.' + name)} AS {name}" for name in CHECKIN_COUNTS)
    disaster_filter = "AND f.disaster_id = %(disaster_id)s" if ctx.parameters.get("disaster_id") else ""
    sql = f"""
    SELECT f.day, f.disaster_id, ds.name AS disaster_name, ds.type AS disaster_type, f.shelter_id,
           s.name AS shelter_name, {counts}, {any_small_sql(*('f.' + name for name in CHECKIN_COUNTS))} AS suppressed
    FROM {CheckInFact._meta.db_table} f
    LEFT JOIN {model_table('shelters', 'Disaster')} ds ON ds.id = f.disaster_id
    LEFT JOIN {model_table('shelters', 'Shelter')} s ON s.id = f.shelter_id
    WHERE f.day >= %(d0)s AND f.day <= %(d1)s {disaster_filter}
    ORDER BY f.day, f.disaster_id, f.shelter_id
    """
    return sql, ctx.params(disaster_id=ctx.parameters.get("disaster_id"))


SHELTER_CHECKINS = register(Dataset(
    key="shelter_checkins",
    title_ja="避難所の受付数（日別）", title_en="Shelter check-ins (daily)",
    description_ja="災害・避難所・日ごとの受付人数、世帯数、市民証QRでの受付、要配慮者、ペット、退所。",
    description_en="Per disaster, shelter and day: people checked in, households, citizen-ID QR check-ins, "
                   "people needing care, pets, checked out.",
    columns=(
        Column("day", "date", "日付", "Day"),
        Column("disaster_id", "int", "災害ID", "Disaster ID"),
        Column("disaster_name", "text", "災害名", "Disaster"),
        Column("disaster_type", "text", "災害種別", "Disaster type"),
        Column("shelter_id", "int", "避難所ID", "Shelter ID"),
        Column("shelter_name", "text", "避難所名", "Shelter"),
        Column("check_ins", "int", "受付人数", "Checked in", person_count=True),
        Column("households", "int", "世帯数", "Households", person_count=True),
        Column("qr_check_ins", "int", "市民証QRでの受付", "Checked in by QR", person_count=True),
        Column("special_care", "int", "要配慮者数", "Needing care", person_count=True),
        Column("pets", "int", "ペット数", "Pets", person_count=True),
        Column("checked_out", "int", "退所済み", "Checked out", person_count=True),
        SUPPRESSED,
    ),
    requires=("shelters",), query=_shelter_checkins, count=_fact_count(CheckInFact._meta.db_table),
    fact="checkins", parameters=(Parameter("disaster_id", "災害ID（省略時はすべて）", "Disaster ID (all when omitted)"),),
))


# --- attendance_daily ---------------------------------------------------------------------------
ATTENDANCE_COUNTS = ("enrolled", "absent", "late", "early_leave", "other", "infection_absent")


def _attendance_daily(ctx: QueryContext) -> tuple[str, dict]:
    counts = ", ".join(f"{suppressed_sql('f.' + name)} AS {name}" for name in ATTENDANCE_COUNTS)
    sql = f"""
    SELECT f.day, s.code AS school_code, s.name AS school_name, s.kind AS school_kind, {counts},
           {any_small_sql(*('f.' + name for name in ATTENDANCE_COUNTS))} AS suppressed
    FROM {AttendanceFact._meta.db_table} f
    LEFT JOIN {model_table('miniapps_attendance', 'School')} s ON s.id = f.school_id
    WHERE f.day >= %(d0)s AND f.day <= %(d1)s
    ORDER BY f.day, s.code
    """
    return sql, ctx.params()


ATTENDANCE_DAILY = register(Dataset(
    key="attendance_daily",
    title_ja="学校の欠席・遅刻連絡（日別）", title_en="School absence reports (daily)",
    description_ja="学校・日ごとの在籍数と、欠席・遅刻・早退・その他・感染症状による欠席の人数。",
    description_en="Per school and day: enrolled, absent, late, leaving early, other, absent with infection symptoms.",
    columns=(
        Column("day", "date", "日付", "Day"),
        Column("school_code", "text", "学校コード", "School code"),
        Column("school_name", "text", "学校名", "School"),
        Column("school_kind", "text", "校種", "School kind"),
        Column("enrolled", "int", "在籍数", "Enrolled", person_count=True),
        Column("absent", "int", "欠席", "Absent", person_count=True),
        Column("late", "int", "遅刻", "Late", person_count=True),
        Column("early_leave", "int", "早退", "Leaving early", person_count=True),
        Column("other", "int", "その他", "Other", person_count=True),
        Column("infection_absent", "int", "感染症状による欠席", "Absent with infection symptoms", person_count=True),
        SUPPRESSED,
    ),
    requires=("miniapps.attendance",), query=_attendance_daily, count=_fact_count(AttendanceFact._meta.db_table),
    fact="attendance",
))


# --- feedback_monthly ---------------------------------------------------------------------------
def _feedback_monthly(ctx: QueryContext) -> tuple[str, dict]:
    sql = f"""
    SELECT a.month, nullif(a.miniapp_id, '') AS miniapp_id,
           CASE WHEN a.miniapp_id = '' THEN NULL ELSE coalesce(m.name, a.miniapp_id) END AS miniapp_name,
           a.category, {suppressed_sql('a.received')} AS received, {gated_sql('a.answered', 'a.received')} AS answered,
           {any_small_sql('a.received', 'a.answered')} AS suppressed
    FROM (SELECT date_trunc('month', day)::date AS month, miniapp_id, category, sum(received)::int AS received,
                 sum(answered)::int AS answered
          FROM {FeedbackFact._meta.db_table} WHERE day >= %(d0)s AND day <= %(d1)s GROUP BY 1, 2, 3) a
    {_miniapp_join('m', 'a.miniapp_id')}
    ORDER BY a.month, a.miniapp_id, a.category
    """
    return sql, _with_names(ctx)


def _feedback_count(ctx: QueryContext) -> tuple[str, dict]:
    return (f"SELECT count(DISTINCT (date_trunc('month', day), miniapp_id, category)) FROM {FeedbackFact._meta.db_table} "
            "WHERE day >= %(d0)s AND day <= %(d1)s", ctx.params())


FEEDBACK_MONTHLY = register(Dataset(
    key="feedback_monthly",
    title_ja="ご意見投稿（月別）", title_en="Feedback (monthly)",
    description_ja="月・ミニアプリ・分類ごとのご意見の件数と回答済み件数（本文は含みません）。",
    description_en="Feedback received and answered per month, mini-app and category (never the text).",
    columns=(
        Column("month", "date", "月", "Month"),
        Column("miniapp_id", "text", "ミニアプリID", "Mini-app ID"),
        Column("miniapp_name", "text", "ミニアプリ名", "Mini-app"),
        Column("category", "text", "分類", "Category"),
        Column("received", "int", "件数", "Received", person_count=True),
        Column("answered", "int", "回答済み", "Answered", person_count=True),
        SUPPRESSED,
    ),
    requires=("miniapps.feedback",), query=_feedback_monthly, count=_feedback_count, fact="feedback",
))


# --- shelter_evacuees (named operational list) --------------------------------------------------
def _shelter_evacuees(ctx: QueryContext) -> tuple[str, dict]:
    period = "AND c.checked_in_at >= %(start)s AND c.checked_in_at < %(end)s" if ctx.date_from else ""
    sql = f"""
    SELECT ds.name AS disaster_name, s.name AS shelter_name,
           (c.checked_in_at AT TIME ZONE %(tz)s) AS checked_in_at, (c.checked_out_at AT TIME ZONE %(tz)s) AS checked_out_at,
           c.household_id::text AS household, c.name, c.kana, c.address, c.birth_date, c.sex,
           array_to_string(c.special_care, ';') AS special_care, c.pets, c.source
    FROM {model_table('shelters', 'CheckIn')} c
    JOIN {model_table('shelters', 'ShelterOpening')} o ON o.id = c.opening_id
    JOIN {model_table('shelters', 'Disaster')} ds ON ds.id = o.disaster_id
    JOIN {model_table('shelters', 'Shelter')} s ON s.id = o.shelter_id
    WHERE o.disaster_id = %(disaster_id)s {period}
    ORDER BY s.name, c.household_id, c.checked_in_at, c.id
    """
    return sql, ctx.params(disaster_id=ctx.parameters.get("disaster_id"))


def _shelter_evacuees_count(ctx: QueryContext) -> tuple[str, dict]:
    period = "AND c.checked_in_at >= %(start)s AND c.checked_in_at < %(end)s" if ctx.date_from else ""
    return (f"SELECT count(*) FROM {model_table('shelters', 'CheckIn')} c "
            f"JOIN {model_table('shelters', 'ShelterOpening')} o ON o.id = c.opening_id "
            f"WHERE o.disaster_id = %(disaster_id)s {period}",
            ctx.params(disaster_id=ctx.parameters.get("disaster_id")))


SHELTER_EVACUEES = register(Dataset(
    key="shelter_evacuees",
    title_ja="避難者名簿（個人情報）", title_en="Evacuee list (personal data)",
    description_ja="災害ごとの避難者の氏名・住所・生年月日などの名簿。自治体管理者のみ、目的を記録して出力でき、出力とダウンロードは監査ログに残ります。",
    description_en="Names, addresses, dates of birth etc. of a disaster's evacuees. Municipality admins only, "
                   "with a stated purpose; every export and download is audited.",
    columns=(
        Column("disaster_name", "text", "災害名", "Disaster"),
        Column("shelter_name", "text", "避難所名", "Shelter"),
        Column("checked_in_at", "timestamp", "受付日時", "Checked in at"),
        Column("checked_out_at", "timestamp", "退所日時", "Checked out at"),
        Column("household", "text", "世帯", "Household"),
        Column("name", "text", "氏名", "Name"),
        Column("kana", "text", "ふりがな", "Kana"),
        Column("address", "text", "住所", "Address"),
        Column("birth_date", "date", "生年月日", "Date of birth"),
        Column("sex", "text", "性別", "Sex"),
        Column("special_care", "text", "要配慮", "Special care"),
        Column("pets", "int", "ペット", "Pets"),
        Column("source", "text", "受付方法", "Checked in by"),
    ),
    requires=("shelters",), query=_shelter_evacuees, count=_shelter_evacuees_count, named_list=True,
    range_required=False, parameters=(Parameter("disaster_id", "災害ID", "Disaster ID", required=True),),
))


# --- event_participants (named operational list) --------------------------------------------------
def _event_participants(ctx: QueryContext) -> tuple[str, dict]:
    rsvp = model_table("community", "Rsvp")
    post = model_table("community", "Post")
    event = model_table("community", "Event")
    user = apps.get_model("accounts", "User")._meta.db_table
    # Going first (in answer order), then the waiting list (queue order), then declines: the order
    # the community app shows its organisers.
    sql = f"""
    SELECT p.title AS event_title, (e.starts_at AT TIME ZONE %(tz)s) AS starts_at, e.place,
           r.status, u.nickname, d.name AS district,
           (r.responded_at AT TIME ZONE %(tz)s) AS responded_at, (r.queued_at AT TIME ZONE %(tz)s) AS queued_at
    FROM {rsvp} r
    JOIN {event} e ON e.post_id = r.event_id
    JOIN {post} p ON p.id = e.post_id
    JOIN {user} u ON u.id = r.user_id
    LEFT JOIN {DISTRICT} d ON d.id = u.district_id
    WHERE r.event_id = %(event_id)s
    ORDER BY CASE r.status WHEN 'going' THEN 0 WHEN 'waiting' THEN 1 ELSE 2 END, r.queued_at, r.responded_at, r.id
    """
    return sql, ctx.params(event_id=ctx.parameters.get("event_id"))


def _event_participants_count(ctx: QueryContext) -> tuple[str, dict]:
    return (f"SELECT count(*) FROM {model_table('community', 'Rsvp')} WHERE event_id = %(event_id)s",
            ctx.params(event_id=ctx.parameters.get("event_id")))


EVENT_PARTICIPANTS = register(Dataset(
    key="event_participants",
    title_ja="イベント参加者名簿（個人情報）", title_en="Event participants (personal data)",
    description_ja="地域イベントの参加・キャンセル待ち・不参加の回答者の名簿（ニックネーム・校区）。自治体管理者のみ、目的を記録して出力でき、監査ログに残ります。",
    description_en="Who answered a community event (going, waiting list, declined), by nickname and district. "
                   "Municipality admins only, with a stated purpose; audited.",
    columns=(
        Column("event_title", "text", "イベント名", "Event"),
        Column("starts_at", "timestamp", "開始日時", "Starts at"),
        Column("place", "text", "場所", "Place"),
        Column("status", "text", "回答", "Answer"),
        Column("nickname", "text", "ニックネーム", "Nickname"),
        Column("district", "text", "校区", "District"),
        Column("responded_at", "timestamp", "回答日時", "Answered at"),
        Column("queued_at", "timestamp", "キャンセル待ち登録", "Waiting since"),
    ),
    requires=("miniapps.community",), query=_event_participants, count=_event_participants_count, named_list=True,
    range_required=False, parameters=(Parameter("event_id", "イベントID", "Event ID", required=True),),
))
