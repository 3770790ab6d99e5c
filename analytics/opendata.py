"""Open data (オープンデータ): the municipality's datasets in the Digital Agency's standard CSV formats
(自治体標準オープンデータセット), public, and the catalog that lists them with update times and licence.

Each file is written by the app that owns the data where that app already has the writer
(shelters: 指定緊急避難場所一覧; garbage: ゴミの分別方法一覧), here otherwise (イベント一覧 from
community events marked public). Every file is UTF-8 with a BOM and has the standard's columns in
the standard's order.

The catalog's `updated_at` is when the file's content last changed: each time a file is served,
and hourly, its SHA-256 is compared with the stored release and the time moves only on a change.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .models import OpenDataRelease

DEFAULT_LICENSE = {
    "id": "CC-BY-4.0",
    "name": "クリエイティブ・コモンズ 表示 4.0 国際 (CC BY 4.0)",
    "name_en": "Creative Commons Attribution 4.0 International (CC BY 4.0)",
    "url": "https://creativecommons.org/licenses/by/4.0/deed.ja",
}
STANDARD = "自治体標準オープンデータセット（デジタル庁）"
STANDARD_EN = "Standard open data sets for local governments (Digital Agency, Japan)"


@dataclass(frozen=True)
class OpenDataset:
    key: str
    title_ja: str
    title_en: str
    standard_name: str  # the dataset's name in the standard
    url_name: str  # the tenant URL that serves the CSV
    requires: tuple[str, ...]
    render: Callable[[object], tuple[bytes, int]]  # municipality → (CSV bytes with BOM, rows)
    columns: int

    def available(self) -> bool:
        return all(_installed(app) for app in self.requires)

    @property
    def filename_suffix(self) -> str:
        return f"{self.key}.csv"


def _installed(app: str) -> bool:
    if ":" in app:  # "module:attribute" — a feature a source app provides from some version on
        module_name, attribute = app.split(":", 1)
        try:
            module = __import__(module_name, fromlist=[attribute])
        except ImportError:
            return False
        return hasattr(module, attribute)
    return apps.is_installed(app)


# --- 指定緊急避難場所一覧 (shelters app) ----------------------------------------------------------
def _render_evacuation_space(municipality) -> tuple[bytes, int]:
    from shelters.models import Shelter
    from shelters.opendata import write_shelters

    shelters = list(Shelter.objects.order_by("id"))
    body = write_shelters(shelters, lg_code=municipality.code, municipality_name=municipality.name,
                          prefecture=municipality.prefecture)
    return body.encode("utf-8"), len(shelters)


# --- ゴミの分別方法一覧 (garbage app) ------------------------------------------------------------
def _render_garbage_separate(municipality) -> tuple[bytes, int]:
    from miniapps.garbage.importers.opendata import write_garbage_separate
    from miniapps.garbage.selectors import item_search

    items = list(item_search().order_by("sort_order", "id"))
    return write_garbage_separate(items, municipality_code=municipality.code,
                                  municipality_name=municipality.name), len(items)


# --- イベント一覧 (community app, events marked public) -----------------------------------------
EVENT_COLUMNS = (
    "全国地方公共団体コード", "法人番号", "ID", "地方公共団体名", "イベント名", "言語コード", "イベント通称", "サブタイトル",
    "イベント名_カナ", "イベント名_英語", "コンテンツURL", "状態", "キーワード", "タグ", "対象となる産業", "開催パターン",
    "開始日", "終了日", "開始時間", "終了時間", "開始日時特記事項", "所要時間", "掲載開始日", "掲載終了日", "概要", "説明",
    "サブイベント", "イベント種類", "料金(基本)", "料金(詳細)", "連絡先名称", "連絡先電話番号", "連絡先内線番号", "主催者",
    "共催団体", "関連組織", "対象者", "対象者備考", "場所名称", "集合（受付）場所", "所在地_全国地方公共団体コード", "町字ID",
    "所在地_連結表記", "所在地_都道府県", "所在地_市区町村", "所在地_町字", "所在地_番地以下", "建物名等(方書)", "緯度", "経度",
    "アクセス方法", "駐車場情報", "駐車場料金", "駐輪場情報", "Web開催", "Web開催URL", "ツール・環境", "定員", "定員備考",
    "料金種別", "決済種別", "外国語対応", "外国語対応備考", "開催条件", "参加申込終了日", "参加申込終了時間", "参加申込方法",
    "申込開始日", "申込開始時刻", "申込URL", "URL", "授乳室", "おむつ替えコーナー", "飲食可否", "ベビーカー貸出",
    "ベビーカー利用", "画像", "画像_ライセンス", "備考",
)
# The community app's `public_events()` returns the events their organiser or a moderator marked for
# open data (visible posts only); without that selector (or the app) the dataset is not offered.
EVENT_SOURCE = "miniapps.community.selectors:public_events"


def standard_date(value) -> str:
    """The standard's date spelling: 2026/4/2 (no zero padding)."""
    return f"{value.year}/{value.month}/{value.day}" if value else ""


def standard_time(value) -> str:
    return f"{value.hour:02d}:{value.minute:02d}" if value else ""


def write_events(events, *, municipality) -> tuple[bytes, int]:
    """Events in the current イベント一覧 format, UTF-8 with a BOM, CRLF line ends. Each event is
    a mapping with the keys used below (the community selector's contract)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EVENT_COLUMNS)
    rows = 0
    local = timezone.localtime
    for event in events:
        starts = local(event["starts_at"])
        ends = local(event["ends_at"]) if event.get("ends_at") else None
        deadline = local(event["rsvp_deadline"]) if event.get("rsvp_deadline") else None
        published = local(event["published_at"]) if event.get("published_at") else None
        tags = ";".join(event.get("tags") or ())
        body = (event.get("description") or "").strip()
        summary = body.splitlines()[0][:200] if body else ""
        capacity = event.get("capacity")
        values = {
            "全国地方公共団体コード": municipality.code, "ID": str(event["id"]), "地方公共団体名": municipality.name,
            "イベント名": event["title"], "言語コード": "ja", "キーワード": tags, "タグ": tags,
            "開始日": standard_date(starts.date()), "終了日": standard_date((ends or starts).date()),
            "開始時間": standard_time(starts.time()), "終了時間": standard_time(ends.time()) if ends else "",
            "掲載開始日": standard_date(published.date()) if published else "", "概要": summary, "説明": body,
            "主催者": event.get("organizer") or "", "場所名称": event.get("place") or "",
            "所在地_全国地方公共団体コード": municipality.code, "所在地_都道府県": municipality.prefecture,
            "所在地_市区町村": municipality.name,
            "緯度": f"{event['latitude']:.6f}" if event.get("latitude") is not None else "",
            "経度": f"{event['longitude']:.6f}" if event.get("longitude") is not None else "",
            "定員": "" if capacity is None else str(capacity),
            "参加申込終了日": standard_date(deadline.date()) if deadline else "",
            "参加申込終了時間": standard_time(deadline.time()) if deadline else "",
            "参加申込方法": "市の公式アプリから申し込み" if deadline else "", "URL": event.get("url") or "",
            "備考": event.get("notes") or "",
        }
        writer.writerow([values.get(column, "") for column in EVENT_COLUMNS])
        rows += 1
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8"), rows


def _render_event(municipality) -> tuple[bytes, int]:
    from miniapps.community.selectors import public_events

    return write_events(public_events(), municipality=municipality)


EVACUATION_SPACE = OpenDataset("evacuation_space", "指定緊急避難場所一覧", "Designated emergency evacuation spaces",
                               "指定緊急避難場所一覧", "opendata-evacuation-space", ("shelters",),
                               _render_evacuation_space, 39)
GARBAGE_SEPARATE = OpenDataset("garbage_separate", "ゴミの分別方法一覧", "How to sort garbage", "ゴミの分別方法一覧",
                               "opendata-garbage-separate", ("miniapps.garbage",), _render_garbage_separate, 11)
EVENT = OpenDataset("event", "イベント一覧", "Events", "イベント一覧", "opendata-event",
                    ("miniapps.community", EVENT_SOURCE), _render_event, len(EVENT_COLUMNS))
OPEN_DATASETS: tuple[OpenDataset, ...] = (EVACUATION_SPACE, GARBAGE_SEPARATE, EVENT)


def open_dataset(key: str) -> OpenDataset | None:
    return next((dataset for dataset in OPEN_DATASETS if dataset.key == key), None)


def available_open_datasets() -> list[OpenDataset]:
    return [dataset for dataset in OPEN_DATASETS if dataset.available()]


def municipality_license(municipality) -> dict:
    """The licence from `Municipality.settings["opendata_license"]` ({"id", "name", "url"}) or CC BY 4.0."""
    chosen = municipality.setting("opendata_license")
    if isinstance(chosen, dict) and chosen.get("name") and chosen.get("url"):
        return {"id": str(chosen.get("id", "")), "name": str(chosen["name"]),
                "name_en": str(chosen.get("name_en", chosen["name"])), "url": str(chosen["url"])}
    return dict(DEFAULT_LICENSE)


# --- Releases ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rendered:
    dataset: OpenDataset
    body: bytes
    rows: int
    release: OpenDataRelease


def release_record(*, key: str, body: bytes, rows: int, now: datetime | None = None) -> OpenDataRelease:
    """Stores the file's hash; `updated_at` moves only when the content changed."""
    now = now or timezone.now()
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        release = OpenDataRelease.objects.select_for_update().filter(dataset=key).first()
        if release is None:
            release, created = OpenDataRelease.objects.get_or_create(
                dataset=key, defaults={"sha256": digest, "rows": rows, "size": len(body), "updated_at": now,
                                       "checked_at": now})
            if created:
                return release
        if release.sha256 != digest:
            release.sha256, release.rows, release.size, release.updated_at = digest, rows, len(body), now
        release.checked_at = now
        release.save()
    return release


def render(dataset: OpenDataset, municipality=None) -> Rendered:
    if municipality is None:
        from tenants.selectors import current_municipality

        municipality = current_municipality()
    body, rows = dataset.render(municipality)
    return Rendered(dataset, body, rows, release_record(key=dataset.key, body=body, rows=rows))


def releases_refresh() -> int:
    """Re-renders every available dataset and records its release (hourly task)."""
    count = 0
    for dataset in available_open_datasets():
        render(dataset)
        count += 1
    return count


def catalog(*, municipality, base_url: str) -> dict:
    """The catalog: the municipality, the licence, and each dataset with its URL and update time.
    A dataset never rendered yet is rendered once here, so its update time is never missing."""
    releases = {release.dataset: release for release in OpenDataRelease.objects.all()}
    license_ = municipality_license(municipality)
    entries = []
    for dataset in available_open_datasets():
        release = releases.get(dataset.key) or render(dataset, municipality).release
        entries.append({
            "id": dataset.key,
            "title": dataset.title_ja,
            "title_en": dataset.title_en,
            "standard": STANDARD,
            "standard_en": STANDARD_EN,
            "standard_dataset": dataset.standard_name,
            "url": base_url.rstrip("/") + reverse(dataset.url_name),
            "media_type": "text/csv",
            "encoding": "UTF-8 (BOM)",
            "columns": dataset.columns,
            "rows": release.rows,
            "size": release.size,
            "sha256": release.sha256,
            "updated_at": release.updated_at,
            "checked_at": release.checked_at,
            "license": license_,
        })
    return {
        "municipality": {"code": municipality.code, "name": municipality.name, "name_en": municipality.name_en,
                         "prefecture": municipality.prefecture},
        "publisher": municipality.name,
        "license": license_,
        "datasets": entries,
    }
