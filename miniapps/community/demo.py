"""Demo data for the community boards (`make demo` → seed_demo): a few district events, some marked
for open data so `/api/v1/opendata/event.csv` is not empty, one left to the board only. Idempotent.

The demo residents hold no citizen ID, so `post_create` (which requires a verified member) would
refuse them: the rows are written here as that service writes them, and the open-data flag is set
through `event_open_data_set` by the demo moderator, which records the audit row."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import District, User
from accounts.roles import Role

from .models import Category, Event, Post
from .services import event_open_data_set

# (district, title, body, days from today, start, end, place, capacity, tags, (lat, lng) or None, open data)
DEMO_EVENTS = {
    "412015": [
        ("勧興", "勧興校区 防災まち歩き", "避難所までの道を歩いて、危ない場所を地図に書き込みます。\n動きやすい服装でお越しください。",
         10, time(9, 30), time(11, 30), "勧興公民館", 30, ["防災", "まち歩き"], (Decimal("33.254500"), Decimal("130.299000")),
         True),
        ("本庄", "本庄 朝のラジオ体操", "毎朝の体操を公園で一緒に。参加カードを配ります。", 14, time(6, 30), time(7, 0),
         "本庄公園", None, ["子ども", "健康"], None, True),
        ("勧興", "勧興 子ども会 役員打ち合わせ", "役員のみの打ち合わせです。", 5, time(19, 0), time(20, 30), "勧興公民館 会議室", 12,
         ["子ども会"], None, False),
    ],
    "412104": [
        ("神埼", "神埼 川沿い清掃活動", "城原川沿いのごみ拾いです。軍手とごみ袋は用意します。", 12, time(8, 0), time(10, 0),
         "神埼中央公園 集合", 40, ["清掃", "環境"], None, True),
    ],
}


def _at(days: int, clock: time) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=days), clock))


def seed_community_demo(*, municipality_code: str) -> list[str]:
    """Returns lines to print."""
    moderator = User.objects.filter(groups__name=Role.COMMUNITY_MODERATOR, is_active=True).order_by("id").first()
    created = published = 0
    for (district_name, title, body, days, start, end, place, capacity, tags, location,
         open_data) in DEMO_EVENTS.get(municipality_code, []):
        district = District.objects.filter(name=district_name).first()
        author = User.objects.filter(kind=User.Kind.RESIDENT, district=district).order_by("id").first()
        if district is None or author is None or Post.objects.filter(title=title).exists():
            continue
        latitude, longitude = location or (None, None)
        post = Post.objects.create(district=district, author=author, category=Category.EVENT, title=title, body=body,
                                   tags=tags, latitude=latitude, longitude=longitude)
        starts_at = _at(days, start)
        event = Event.objects.create(post=post, starts_at=starts_at, ends_at=_at(days, end), place=place,
                                     capacity=capacity, rsvp_deadline=starts_at - timedelta(days=1))
        created += 1
        if open_data and moderator is not None:
            event.post = post
            event_open_data_set(event=event, open_data=True, acting_user=moderator)
            published += 1
    return [f"地域共創: イベント{created}件（うちオープンデータ{published}件） / community: {created} events, "
            f"{published} published as open data"]
