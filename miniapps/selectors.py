"""Reads for the mini-app framework: the municipality's effective catalog (built-in mini-apps from
the registry merged with its catalog rows and the shared catalog), the resident's home screen,
consent state, and the usage ranking."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Q, Sum

from accounts.models import User
from superapp.api.errors import ApiError

from .attributes import age_band_label
from .generations import generation_sql
from .catalog.models import ExternalMiniApp
from .manifest import CATEGORY_NAMES, Category, Manifest
from .models import CatalogEntry, HomeLayout, MiniAppGrant, UsageDaily
from .registry import registry

# Residents who never arranged their home screen, in a municipality that set no default layout,
# get the first this-many mini-apps of the catalog.
FALLBACK_FAVOURITES = 8
BUILTIN = "builtin"
EXTERNAL = "external"


@dataclass(frozen=True)
class CatalogItem:
    """One mini-app as this municipality offers it."""

    id: str
    kind: str  # "builtin" or "external"
    name: str
    name_en: str
    description: str
    description_en: str
    category: str
    icon: str
    api_path: str | None
    launch_url: str | None
    requested_attributes: tuple[str, ...]
    owner_kind: str | None
    owner_name: str | None
    publisher_code: str | None
    publisher_name: str | None
    status: str  # review status of an external mini-app; "published" for built-in ones
    enabled: bool  # the municipality's switch
    sort_order: int

    @property
    def available(self) -> bool:
        """Shown on residents' home screens and launchable."""
        return self.enabled and self.status == ExternalMiniApp.Status.PUBLISHED


def _builtin_item(manifest: Manifest, entry: CatalogEntry | None) -> CatalogItem:
    return CatalogItem(
        id=manifest.id, kind=BUILTIN, name=manifest.name_ja, name_en=manifest.name_en,
        description=manifest.description_ja, description_en=manifest.description_en, category=manifest.category,
        icon=manifest.icon, api_path=manifest.api_path, launch_url=None, requested_attributes=(),
        owner_kind=None, owner_name=None, publisher_code=None, publisher_name=None,
        status=ExternalMiniApp.Status.PUBLISHED,
        enabled=entry.enabled if entry is not None else manifest.default_enabled,
        sort_order=entry.sort_order if entry is not None else manifest.order,
    )


def _external_item(app: ExternalMiniApp, entry: CatalogEntry) -> CatalogItem:
    return CatalogItem(
        id=app.slug, kind=EXTERNAL, name=app.name, name_en=app.name_en, description=app.description,
        description_en=app.description_en, category=app.category, icon=app.icon, api_path=None,
        launch_url=app.launch_url, requested_attributes=tuple(app.requested_attributes),
        owner_kind=app.owner_kind, owner_name=app.owner_name, publisher_code=app.publisher.code,
        publisher_name=app.publisher.name, status=app.status, enabled=entry.enabled, sort_order=entry.sort_order,
    )


def _item(entry: CatalogEntry | None, miniapp_id: str) -> CatalogItem | None:
    manifest = registry.get(miniapp_id)
    if manifest is not None:
        return _builtin_item(manifest, entry)
    if entry is not None and entry.external is not None:
        return _external_item(entry.external, entry)
    return None  # a row left behind by a built-in mini-app no longer installed


def _entries():
    return CatalogEntry.objects.select_related("external", "external__publisher")


def catalog_items() -> list[CatalogItem]:
    """Every mini-app in this municipality's catalog, enabled or not, in catalog order (one query)."""
    entries = {entry.miniapp_id: entry for entry in _entries()}
    items = [_item(entries.get(miniapp_id), miniapp_id) for miniapp_id in {*registry.ids(), *entries}]
    return sorted((item for item in items if item is not None), key=lambda item: (item.sort_order, item.id))


def catalog_item_get(*, miniapp_id: str) -> CatalogItem | None:
    entry = _entries().filter(miniapp_id=miniapp_id).first() if len(miniapp_id) <= 50 else None
    return _item(entry, miniapp_id)


def access_catalog_item(*, miniapp_id: str) -> CatalogItem:
    """The mini-app if this municipality's catalog has it, enabled or not; else the common 404."""
    item = catalog_item_get(miniapp_id=miniapp_id)
    if item is None:
        raise ApiError("not_found", status_code=404)
    return item


def catalog_known_ids(ids: set[str]) -> set[str]:
    """Which of `ids` are in this municipality's catalog (enabled or not). Built-in ids need no
    lookup; others are checked against the cached catalog (see home_catalog)."""
    known = {miniapp_id for miniapp_id in ids if miniapp_id in registry}
    rest = ids - known
    if rest:
        known |= rest & home_catalog().known
    return known


# --- Home screen ------------------------------------------------------------------------------
def item_payload(item: CatalogItem) -> dict:
    """The home-screen shape of a mini-app (HomeMiniAppOutput documents it)."""
    return {
        "id": item.id,
        "kind": item.kind,
        "name": item.name,
        "name_en": item.name_en,
        "description": item.description,
        "description_en": item.description_en,
        "category": item.category,
        "icon": item.icon,
        "api_url": item.api_path,
        "launch_url": item.launch_url,
        "requested_attributes": list(item.requested_attributes),
        "owner": {"kind": item.owner_kind, "name": item.owner_name} if item.owner_kind else None,
    }


def _layouts(user: User | None) -> tuple[list[str] | None, list[str] | None]:
    """(the resident's own favourites or None, the municipality's default or None) in one query."""
    own, default, _generation = _layouts_and_generation(user)
    return own, default


def _generation() -> tuple | None:
    tenant_generation, shared_generation = generation_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {tenant_generation}, {shared_generation}")
        tenant, shared = cursor.fetchone()
    return (tenant, shared) if tenant is not None and shared is not None else None


def _layouts_and_generation(user: User | None) -> tuple[list[str] | None, list[str] | None, tuple | None]:
    """The resident's and the default layout, and the catalog generation, in one round trip (the
    home screen's only query besides authentication). Written in SQL: at least one row must come
    back even when no layout exists, which a LEFT JOIN from a constant row gives."""
    tenant_generation, shared_generation = generation_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.user_id, l.favourites, {tenant_generation}, {shared_generation} FROM (SELECT 1) AS one "
            f"LEFT JOIN {HomeLayout._meta.db_table} l ON l.user_id IS NULL OR l.user_id = %s",
            [user.pk if user is not None else None])
        rows = cursor.fetchall()
    own = default = None
    for user_id, favourites, _tenant, _shared in rows:
        if favourites is None:
            continue  # the constant row when no layout exists
        if user_id is None:
            default = favourites
        else:
            own = favourites
    tenant, shared = rows[0][2], rows[0][3]
    return own, default, (tenant, shared) if tenant is not None and shared is not None else None


def default_favourites(available_ids: tuple[str, ...], default: list[str] | None) -> list[str]:
    if default is not None:
        ids = set(available_ids)
        return [miniapp_id for miniapp_id in default if miniapp_id in ids]
    return list(available_ids[:FALLBACK_FAVOURITES])


@dataclass(frozen=True)
class HomeCatalog:
    """What every resident of a municipality shares on the home screen: the available mini-apps
    in catalog order and their category groups, ready to render (never mutated once built)."""

    ids: tuple[str, ...]
    id_set: frozenset[str]
    categories: tuple[dict, ...]
    known: frozenset[str]  # every id in the catalog, enabled or not


def _build_home_catalog() -> HomeCatalog:
    items = catalog_items()
    available = [item for item in items if item.available]
    by_category: dict[str, list[dict]] = {category: [] for category in Category.values}
    for item in available:
        by_category[item.category].append(item_payload(item))
    ids = tuple(item.id for item in available)
    return HomeCatalog(ids=ids, id_set=frozenset(ids), known=frozenset(item.id for item in items), categories=tuple(
        {"id": category, "name": CATEGORY_NAMES[category][0], "name_en": CATEGORY_NAMES[category][1],
         "miniapps": miniapps}
        for category, miniapps in by_category.items()))


# schema name → (catalog generation, catalog); see miniapps.generations.
_home_catalogs: dict[str, tuple[tuple, HomeCatalog]] = {}


def home_catalog(generation: tuple | None = None) -> HomeCatalog:
    """The municipality's home-screen catalog: from this process's memory while the catalog
    generation is the one it was built at, else rebuilt from the database (one query)."""
    if generation is None:
        generation = _generation()
    schema = connection.schema_name
    cached = _home_catalogs.get(schema)
    if generation is not None and cached is not None and cached[0] == generation:
        return cached[1]
    catalog = _build_home_catalog()
    if generation is not None:
        _home_catalogs[schema] = (generation, catalog)
    return catalog


def home_screen(*, user: User) -> dict:
    """Enabled mini-apps grouped by category (the six categories, always in the same order) and the
    resident's ordered favourites: their own, or the municipality's default until they arrange
    theirs. Favourites that were disabled since are left out. One query (layouts and catalog
    generation), plus one for the catalog when it changed since this process last read it."""
    own, default, generation = _layouts_and_generation(user)
    catalog = home_catalog(generation)
    if own is not None:
        favourites, source = [miniapp_id for miniapp_id in own if miniapp_id in catalog.id_set], "resident"
    else:
        favourites, source = default_favourites(catalog.ids, default), "default"
    return {"favourites": favourites, "layout": source, "categories": catalog.categories}


def home_default_layout() -> tuple[list[str], bool]:
    """The municipality's default favourites and whether staff set them (else the fallback)."""
    ids = tuple(item.id for item in catalog_items() if item.available)
    _own, default = _layouts(None)
    return default_favourites(ids, default), default is not None


# --- Consent ----------------------------------------------------------------------------------
def grant_get(*, user: User, miniapp_id: str) -> MiniAppGrant | None:
    return MiniAppGrant.objects.filter(user=user, miniapp_id=miniapp_id).first()


def consent_state(*, user: User, item: CatalogItem) -> dict:
    grant = grant_get(user=user, miniapp_id=item.id)
    requested = list(item.requested_attributes)
    consented = grant is not None and grant.consented_at is not None
    return {
        "miniapp": item.id,
        "requested_attributes": requested,
        "attributes": [name for name in requested if consented and name in grant.attributes],
        "consented_at": grant.consented_at if consented else None,
        "consent_required": bool(requested) and (grant is None or not grant.covers(requested)),
    }


# --- Shared catalog ---------------------------------------------------------------------------
def shared_catalog() -> list[ExternalMiniApp]:
    """Published external mini-apps on the whole platform, any publisher."""
    return list(ExternalMiniApp.objects.filter(status=ExternalMiniApp.Status.PUBLISHED).select_related("publisher"))


def external_miniapps_published_by(*, municipality) -> list[ExternalMiniApp]:
    return list(ExternalMiniApp.objects.filter(publisher=municipality).select_related("publisher"))


def access_external_miniapp(*, municipality, slug: str) -> ExternalMiniApp:
    """An external mini-app this municipality publishes; another publisher's is the same 404."""
    app = ExternalMiniApp.objects.select_related("publisher").filter(publisher=municipality, slug=slug).first()
    if app is None:
        raise ApiError("not_found", status_code=404)
    return app


# --- Usage ranking ----------------------------------------------------------------------------
def usage_ranking(*, date_from: date, date_to: date, district_id: int | None = None, age_band: int | None = None,
                  privacy_threshold: int = 10, limit: int = 50) -> list[dict]:
    """ミニアプリランキング: opens, taps and resident-days per mini-app over a period, most opened
    first. Rows counting fewer resident-days than `privacy_threshold` are suppressed (figures None)
    and listed last, so small groups (one district, one age band) cannot be singled out."""
    rows = UsageDaily.objects.filter(day__gte=date_from, day__lte=date_to)
    if district_id is not None:
        rows = rows.filter(district_id=district_id)
    if age_band is not None:
        rows = rows.filter(age_band=age_band)
    totals = (rows.values("miniapp_id").annotate(opens=Sum("opens"), taps=Sum("taps"), resident_days=Sum("users"))
              .order_by("-opens", "miniapp_id"))
    names = {item.id: item for item in catalog_items()}
    ranked, suppressed = [], []
    for row in totals:
        item = names.get(row["miniapp_id"])
        entry = {"miniapp": row["miniapp_id"], "name": item.name if item else row["miniapp_id"],
                 "name_en": item.name_en if item else row["miniapp_id"]}
        if row["resident_days"] < privacy_threshold:
            suppressed.append({**entry, "opens": None, "taps": None, "resident_days": None, "suppressed": True})
        else:
            ranked.append({**entry, "opens": row["opens"], "taps": row["taps"],
                           "resident_days": row["resident_days"], "suppressed": False})
    for position, row in enumerate(ranked, start=1):
        row["rank"] = position
    for row in suppressed:
        row["rank"] = None
    return (ranked + sorted(suppressed, key=lambda row: row["miniapp"]))[:limit]


def age_band_choices() -> list[str]:
    return [age_band_label(lower) for lower in range(0, 81, 10)]
