"""Writes for the mini-app framework: the municipality's catalog and default layout, residents'
home layouts, external mini-apps in the shared catalog, consent and launch, usage events and
their daily aggregation."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from superapp.api.errors import ApiError

from . import selectors, sso
from .generations import catalog_changed
from .attributes import ATTRIBUTE_LABELS, ATTRIBUTE_NAMES, age_band_lower, resident_attribute_values
from .catalog.models import ExternalMiniApp
from .manifest import ICON_NAME_RE, MINIAPP_ID_MAX_LENGTH, MINIAPP_ID_RE, RESERVED_IDS, Category
from .models import CatalogEntry, HomeLayout, MiniAppGrant, UsageAggregationState, UsageDaily, UsageEvent
from .registry import registry

MAX_FAVOURITES = 60


def _invalid(field: str, ja: str, en: str) -> ApiError:
    return ApiError("validation_error", fields={field: [f"{ja} / {en}"]})


def _check_ids(field: str, ids: list[str], allowed: set[str], what_ja: str, what_en: str) -> None:
    duplicates = sorted({miniapp_id for miniapp_id in ids if ids.count(miniapp_id) > 1})
    if duplicates:
        raise _invalid(field, f"重複しています: {', '.join(duplicates)}", f"Listed more than once: {', '.join(duplicates)}")
    unknown = [miniapp_id for miniapp_id in ids if miniapp_id not in allowed]
    if unknown:
        raise ApiError(
            "validation_error",
            message=f"{what_ja}: {', '.join(unknown)}", message_en=f"{what_en}: {', '.join(unknown)}",
            fields={field: [f"{what_ja}: {', '.join(unknown)} / {what_en}: {', '.join(unknown)}"]},
        )


# --- Residents' home layout -------------------------------------------------------------------
def home_layout_set(*, user: User, favourites: list[str]) -> list[str]:
    """Replaces the resident's ordered favourites. Every id must be an enabled mini-app."""
    if len(favourites) > MAX_FAVOURITES:
        raise _invalid("favourites", f"お気に入りは{MAX_FAVOURITES}件までです", f"At most {MAX_FAVOURITES} favourites")
    available = {item.id for item in selectors.catalog_items() if item.available}
    _check_ids("favourites", favourites, available, "不明または利用できないミニアプリです",
               "Unknown or disabled mini-apps")
    # One INSERT ... ON CONFLICT: the resident's row is made or replaced in a single statement.
    HomeLayout.objects.bulk_create([HomeLayout(user=user, favourites=favourites)], update_conflicts=True,
                                   unique_fields=["user"], update_fields=["favourites", "updated_at"])
    return favourites


# --- The municipality's catalog (staff) -------------------------------------------------------
def _entry_for(item: selectors.CatalogItem) -> CatalogEntry:
    entry = CatalogEntry.objects.select_for_update().filter(miniapp_id=item.id).first()
    if entry is None:  # a built-in mini-app gets its row the first time staff change it
        entry, _ = CatalogEntry.objects.get_or_create(
            miniapp_id=item.id, defaults={"enabled": item.enabled, "sort_order": item.sort_order})
    return entry


@transaction.atomic
def catalog_entry_update(*, miniapp_id: str, acting_user: User, enabled: bool | None = None) -> selectors.CatalogItem:
    item = selectors.access_catalog_item(miniapp_id=miniapp_id)
    entry = _entry_for(item)
    if enabled is not None and entry.enabled != enabled:
        entry.enabled = enabled
        entry.save(update_fields=["enabled", "updated_at"])
        catalog_changed()
        audit_record(actor=acting_user, action="miniapp.enabled" if enabled else "miniapp.disabled", target=entry,
                     data={"miniapp": miniapp_id})
    return selectors.catalog_item_get(miniapp_id=miniapp_id)


@transaction.atomic
def catalog_add_external(*, miniapp_id: str, acting_user: User, enabled: bool = True) -> selectors.CatalogItem:
    """Adds a published external mini-app from the shared catalog (any publisher) to this
    municipality's catalog, at the end."""
    app = (ExternalMiniApp.objects.select_related("publisher")
           .filter(slug=miniapp_id, status=ExternalMiniApp.Status.PUBLISHED).first())
    if app is None or miniapp_id in registry:
        raise ApiError("not_found", status_code=404, fields={"id": [
            "共有カタログに公開中のミニアプリがありません / No published mini-app with this id in the shared catalog"]})
    if CatalogEntry.objects.filter(miniapp_id=miniapp_id).exists():
        raise ApiError("conflict", status_code=409, fields={"id": [
            "既にこの自治体のカタログにあります / Already in this municipality's catalog"]})
    last = max((item.sort_order for item in selectors.catalog_items()), default=0)
    try:
        with transaction.atomic():
            entry = CatalogEntry.objects.create(miniapp_id=miniapp_id, external=app, enabled=enabled,
                                                sort_order=last + 10)
    except IntegrityError:  # a concurrent request added it first
        raise ApiError("conflict", status_code=409, fields={"id": [
            "既にこの自治体のカタログにあります / Already in this municipality's catalog"]}) from None
    catalog_changed()
    audit_record(actor=acting_user, action="miniapp.added", target=entry,
                 data={"miniapp": miniapp_id, "publisher": app.publisher.code})
    return selectors.catalog_item_get(miniapp_id=miniapp_id)


@transaction.atomic
def catalog_reorder(*, order: list[str], acting_user: User) -> list[selectors.CatalogItem]:
    """Puts the listed mini-apps first, in that order; the others follow in their current order."""
    items = selectors.catalog_items()
    _check_ids("order", order, {item.id for item in items}, "この自治体のカタログにないミニアプリです",
               "Not in this municipality's catalog")
    rest = [item.id for item in items if item.id not in order]
    positions = {miniapp_id: (index + 1) * 10 for index, miniapp_id in enumerate([*order, *rest])}
    by_id = {item.id: item for item in items}
    CatalogEntry.objects.bulk_create(
        [CatalogEntry(miniapp_id=miniapp_id, enabled=by_id[miniapp_id].enabled, sort_order=position)
         for miniapp_id, position in positions.items()],
        update_conflicts=True, unique_fields=["miniapp_id"], update_fields=["sort_order"],
    )
    catalog_changed()
    audit_record(actor=acting_user, action="miniapp.reordered", data={"order": [*order, *rest]})
    return selectors.catalog_items()


@transaction.atomic
def home_default_layout_set(*, favourites: list[str], acting_user: User) -> list[str]:
    """The favourites residents get until they arrange their own home screen."""
    if len(favourites) > MAX_FAVOURITES:
        raise _invalid("favourites", f"お気に入りは{MAX_FAVOURITES}件までです", f"At most {MAX_FAVOURITES} favourites")
    available = {item.id for item in selectors.catalog_items() if item.available}
    _check_ids("favourites", favourites, available, "不明または利用できないミニアプリです",
               "Unknown or disabled mini-apps")
    HomeLayout.objects.update_or_create(user=None, defaults={"favourites": favourites})
    audit_record(actor=acting_user, action="miniapp.default_layout_set", data={"favourites": favourites})
    return favourites


# --- External mini-apps in the shared catalog -------------------------------------------------
_EXTERNAL_FIELDS = ("name", "name_en", "description", "description_en", "category", "icon", "launch_url",
                    "owner_kind", "owner_name", "contact_email", "requested_attributes")
_https = URLValidator(schemes=["https"])


def _clean_external(fields: dict) -> dict:
    errors: dict[str, list[str]] = {}
    if "launch_url" in fields:
        url = fields["launch_url"]
        try:
            _https(url)
        except ValidationError:
            errors["launch_url"] = ["https:// で始まるURLを指定してください / Must be an https:// URL"]
        else:
            if "@" in url.split("/", 3)[2] or "#" in url:
                errors["launch_url"] = ["認証情報やフラグメント(#)を含むURLは使えません / "
                                        "The URL may not carry credentials or a fragment"]
    if "icon" in fields:
        icon = fields["icon"]
        if icon.startswith("https://"):
            try:
                _https(icon)
            except ValidationError:
                errors["icon"] = ["アイコンは名前か https:// の画像URLです / An icon name or an https:// image URL"]
        elif not ICON_NAME_RE.match(icon):
            errors["icon"] = ["アイコンは名前か https:// の画像URLです / An icon name or an https:// image URL"]
    if "category" in fields and fields["category"] not in Category.values:
        errors["category"] = [f"{', '.join(Category.values)} のいずれかです / One of {', '.join(Category.values)}"]
    if "requested_attributes" in fields:
        requested = fields["requested_attributes"]
        unknown = [name for name in requested if name not in ATTRIBUTE_NAMES]
        if unknown or len(set(requested)) != len(requested):
            errors["requested_attributes"] = [f"{', '.join(ATTRIBUTE_NAMES)} から重複なく選んでください / "
                                              f"Distinct values from {', '.join(ATTRIBUTE_NAMES)}"]
        else:  # keep a canonical order, so "asked for more?" is a set comparison
            fields["requested_attributes"] = [name for name in ATTRIBUTE_NAMES if name in requested]
    for name in ("name", "name_en", "owner_name"):
        if name in fields:
            fields[name] = fields[name].strip()
            if not fields[name]:
                errors[name] = ["入力してください / Required"]
    if errors:
        raise ApiError("validation_error", fields=errors)
    return fields


@transaction.atomic
def external_miniapp_create(*, publisher, slug: str, acting_user: User, **fields) -> ExternalMiniApp:
    """Registers a web service as an external mini-app, as a draft that only its publisher sees."""
    unknown = set(fields) - set(_EXTERNAL_FIELDS)
    if unknown:
        raise ValueError(f"not external mini-app fields: {sorted(unknown)}")
    if not MINIAPP_ID_RE.match(slug) or len(slug) > MINIAPP_ID_MAX_LENGTH or slug in RESERVED_IDS:
        raise _invalid("id", "英小文字で始まる英小文字・数字・ハイフンの50文字以内です",
                       "Lowercase letters, digits and single hyphens, starting with a letter, at most 50 characters")
    fields = _clean_external(fields)
    taken = ApiError("conflict", status_code=409, fields={"id": [
        f"ID「{slug}」は既に使われています / The id '{slug}' is taken"]})
    if slug in registry or ExternalMiniApp.objects.filter(slug=slug).exists():
        raise taken
    try:
        with transaction.atomic():
            app = ExternalMiniApp.objects.create(slug=slug, publisher=publisher, status=ExternalMiniApp.Status.DRAFT,
                                                 **fields)
    except IntegrityError:  # another municipality took the id a moment ago
        raise taken from None
    catalog_changed(shared=True)
    audit_record(actor=acting_user, action="external_miniapp.created", target=app, data={"miniapp": slug})
    return app


@transaction.atomic
def external_miniapp_update(*, app: ExternalMiniApp, acting_user: User, **changes) -> ExternalMiniApp:
    unknown = set(changes) - set(_EXTERNAL_FIELDS)
    if unknown:
        raise ValueError(f"not external mini-app fields: {sorted(unknown)}")
    changes = _clean_external(changes)
    changed = {name: value for name, value in changes.items() if getattr(app, name) != value}
    for name, value in changed.items():
        setattr(app, name, value)
    if changed:
        app.save(update_fields=[*changed, "updated_at"])
        catalog_changed(shared=True)
        audit_record(actor=acting_user, action="external_miniapp.updated", target=app,
                     data={"miniapp": app.slug, "fields": sorted(changed)})
    return app


@transaction.atomic
def external_miniapp_set_status(*, app: ExternalMiniApp, status: str, acting_user: User | None) -> ExternalMiniApp:
    """draft → published (on the shared catalog: every municipality can add it), published →
    suspended (gone from every home screen at once, launch refused), and back."""
    if status not in ExternalMiniApp.Status.values:
        raise _invalid("status", "draft, published, suspended のいずれかです", "One of draft, published, suspended")
    if app.status != status:
        before = app.status
        app.status = status
        if status == ExternalMiniApp.Status.PUBLISHED and app.published_at is None:
            app.published_at = timezone.now()
        app.save(update_fields=["status", "published_at", "updated_at"])
        catalog_changed(shared=True)
        audit_record(actor=acting_user, action="external_miniapp.status_changed", target=app,
                     data={"miniapp": app.slug, "before": before, "after": status})
    return app


# --- Consent and launch -----------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchResult:
    item: selectors.CatalogItem
    token: sso.LaunchToken | None
    shared_attributes: list[str]


def _grant(user: User, miniapp_id: str) -> MiniAppGrant:
    grant = MiniAppGrant.objects.select_for_update().filter(user=user, miniapp_id=miniapp_id).first()
    if grant is None:  # first launch (get_or_create survives a concurrent first launch)
        grant, _ = MiniAppGrant.objects.get_or_create(user=user, miniapp_id=miniapp_id,
                                                      defaults={"subject": uuid.uuid4()})
    return grant


@transaction.atomic
def miniapp_launch(*, user: User, miniapp_id: str, issuer: str, municipality_code: str,
                   consent: list[str] | None = None) -> LaunchResult:
    """Launches a mini-app for a resident. An external one gets a signed launch token carrying
    only the attributes the resident consented to share with it; consent is asked (409
    consent_required) the first time and again whenever the mini-app asks for more."""
    item = selectors.access_catalog_item(miniapp_id=miniapp_id)
    if not item.available:
        raise ApiError("miniapp_disabled", status_code=409)
    if item.kind == selectors.BUILTIN:
        return LaunchResult(item=item, token=None, shared_attributes=[])

    requested = list(item.requested_attributes)
    grant = _grant(user, miniapp_id)
    if consent is not None:
        not_requested = [name for name in consent if name not in requested]
        if not_requested:
            raise _invalid("consent", f"このミニアプリが求めていない項目です: {', '.join(not_requested)}",
                           f"Not requested by this mini-app: {', '.join(not_requested)}")
        grant.attributes = [name for name in requested if name in consent]
        grant.requested_when_consented = requested
        grant.consented_at, grant.withdrawn_at = timezone.now(), None
        grant.save(update_fields=["attributes", "requested_when_consented", "consented_at", "withdrawn_at"])
        audit_record(actor=user, action="miniapp.consent_granted", target=grant,
                     data={"miniapp": miniapp_id, "attributes": grant.attributes, "requested": requested})
    elif requested and not grant.covers(requested):
        labels = ", ".join(ATTRIBUTE_LABELS[name] for name in requested)
        raise ApiError("consent_required", status_code=409, fields={"consent": [
            f"このミニアプリは次の情報の提供を求めています: {labels} / This mini-app asks for: {', '.join(requested)}"]})

    shared = [name for name in requested if name in grant.attributes]
    token = sso.launch_token_issue(issuer=issuer, audience=miniapp_id, subject=grant.subject.hex,
                                   municipality_code=municipality_code,
                                   attributes=resident_attribute_values(user, shared))
    # The record of what was shared with whom (a third party receives personal data).
    audit_record(actor=user, action="miniapp.launched", target=grant,
                 data={"miniapp": miniapp_id, "jti": token.jti, "attributes": shared})
    return LaunchResult(item=item, token=token, shared_attributes=shared)


@transaction.atomic
def miniapp_consent_withdraw(*, user: User, miniapp_id: str) -> None:
    """Withdraws consent: the next launch asks again, and shares nothing until the resident agrees.
    The pairwise subject stays, so the mini-app still recognises the resident's account."""
    grant = MiniAppGrant.objects.select_for_update().filter(user=user, miniapp_id=miniapp_id).first()
    if grant is None:
        selectors.access_catalog_item(miniapp_id=miniapp_id)  # 404 for an id this municipality doesn't know
        return
    if grant.consented_at is not None:
        previous = grant.attributes
        grant.attributes, grant.requested_when_consented = [], []
        grant.consented_at, grant.withdrawn_at = None, timezone.now()
        grant.save(update_fields=["attributes", "requested_when_consented", "consented_at", "withdrawn_at"])
        audit_record(actor=user, action="miniapp.consent_withdrawn", target=grant,
                     data={"miniapp": miniapp_id, "attributes": previous})


# --- Usage events -----------------------------------------------------------------------------
USAGE_BATCH_LIMIT = 500
USAGE_KINDS = {"opened": UsageEvent.Kind.OPENED.value, "tapped": UsageEvent.Kind.TAPPED.value}
USAGE_MAX_AGE = timedelta(days=30)
USAGE_MAX_CLOCK_AHEAD = timedelta(days=1)


@dataclass(frozen=True)
class UsageEventInput:
    miniapp: str
    kind: int
    at: datetime


def usage_events_record(*, user: User, events: list[UsageEventInput]) -> int:
    """Stores a batch of usage events in one INSERT, or nothing: every event's mini-app must be in
    this municipality's catalog and its time within the last 30 days (a day of clock skew allowed)."""
    if len(events) > USAGE_BATCH_LIMIT:
        raise ApiError("usage_batch_too_large", status_code=400)
    if not events:
        return 0
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    for index, event in enumerate(events):
        if not now - USAGE_MAX_AGE <= event.at <= now + USAGE_MAX_CLOCK_AHEAD:
            errors[f"events.{index}.at"] = ["30日以内の日時を指定してください / Must be within the last 30 days"]
    miniapps = {event.miniapp for event in events}
    unknown = sorted(miniapps - selectors.catalog_known_ids(miniapps))
    if unknown:
        message = f"不明なミニアプリです: {', '.join(unknown)} / Unknown mini-apps: {', '.join(unknown)}"
        for index, event in enumerate(events):
            if event.miniapp in unknown:
                errors[f"events.{index}.miniapp"] = [message]
    if errors:
        raise ApiError("validation_error", fields=errors)
    # One statement, its own transaction:
    # - unnest() turns three arrays into rows: a fixed number of parameters whatever the batch size,
    #   and no model instances (the batch is the hot path of every app launch);
    # - set_config(..., is_local) makes this statement's commit asynchronous: it does not wait for
    #   the WAL flush (half the insert's time under load on this machine). A PostgreSQL crash can
    #   lose the last fraction of a second of usage events, never corrupt anything; acceptable for
    #   analytics, and confined to this table's inserts;
    # - received_at is the database's clock, the one the aggregation's cut-off is taken from.
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH async_commit AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)) "
            f"INSERT INTO {UsageEvent._meta.db_table} "
            "(occurred_at, received_at, miniapp_id, kind, user_id, district_id, age_band) "
            "SELECT t.at, statement_timestamp(), t.miniapp, t.kind, %s, %s, %s "
            "FROM unnest(%s::timestamptz[], %s::varchar[], %s::smallint[]) AS t(at, miniapp, kind), async_commit",
            [user.pk, user.district_id, age_band_lower(user.birth_year),
             [event.at for event in events], [event.miniapp for event in events], [event.kind for event in events]],
        )
    return len(events)


# Events are counted once no transaction can still be inserting them: a batch's received_at is
# the start of its single INSERT statement, so anything older than this margin is committed or gone.
AGGREGATION_MARGIN = timedelta(minutes=2)


def _database_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


@transaction.atomic
def usage_aggregate(*, now: datetime | None = None) -> list[str]:
    """Rebuilds UsageDaily for every local day that gained events since the last run. A day is
    recomputed whole from the events (delete + insert), so the figures are exact (distinct
    residents included) and a second run changes nothing. Returns the days rebuilt (ISO dates).
    `now` defaults to the database's clock, which also stamped the events."""
    cutoff = (now or _database_now()) - AGGREGATION_MARGIN
    state, _ = UsageAggregationState.objects.select_for_update().get_or_create(pk=1)
    since = state.received_until
    if since is not None and since >= cutoff:
        return []
    tz = settings.TIME_ZONE
    table = UsageEvent._meta.db_table
    window = "received_at < %s" + (" AND received_at >= %s" if since is not None else "")
    params = [cutoff] + ([since] if since is not None else [])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT (occurred_at AT TIME ZONE %s)::date FROM {table} WHERE {window}",
                       [tz, *params])
        days = sorted(row[0] for row in cursor.fetchall())
        if days:
            daily = UsageDaily._meta.db_table
            cursor.execute(f"DELETE FROM {daily} WHERE day = ANY(%s)", [days])
            # Each day's events are found by their own timestamp (BRIN on occurred_at), late
            # arrivals included; the day boundaries are Asia/Tokyo midnights.
            cursor.execute(
                f"INSERT INTO {daily} (day, miniapp_id, district_id, age_band, opens, taps, users) "
                f"SELECT (e.occurred_at AT TIME ZONE %s)::date AS day, e.miniapp_id, e.district_id, e.age_band, "
                f"count(*) FILTER (WHERE e.kind = %s), count(*) FILTER (WHERE e.kind = %s), count(DISTINCT e.user_id) "
                f"FROM {table} e JOIN unnest(%s::date[]) AS d(day) "
                f"ON e.occurred_at >= (d.day::timestamp AT TIME ZONE %s) "
                f"AND e.occurred_at < ((d.day + 1)::timestamp AT TIME ZONE %s) "
                f"GROUP BY 1, 2, 3, 4",
                [tz, UsageEvent.Kind.OPENED.value, UsageEvent.Kind.TAPPED.value, days, tz, tz],
            )
    state.received_until = cutoff
    state.save(update_fields=["received_until", "updated_at"])
    return [day.isoformat() for day in days]
