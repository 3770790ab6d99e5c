"""Demo data for the mini-app framework, on top of `seed_demo`'s municipalities. Idempotent.

Saga publishes an external mini-app on the shared catalog and both cities add it (Kanzaki shows
another city's work on its home screen); each city gets a welcome announcement shown as a popup.
"""
from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from miniapps import services
from miniapps.announcements.models import Announcement
from miniapps.announcements.services import announcement_create
from miniapps.catalog.models import ExternalMiniApp
from miniapps.models import CatalogEntry
from tenants.models import Municipality

DEMO_APP = dict(
    slug="saga-balloon-guide", name="バルーンフェスタ案内", name_en="Balloon Fiesta guide",
    description="佐賀インターナショナルバルーンフェスタの会場案内と臨時駅の混雑状況（デモ）",
    description_en="Venue guide and crowding at the temporary station for the Saga International Balloon "
                   "Fiesta (demo)",
    category="tourism_events", icon="celebration", launch_url="https://balloon-guide.example.jp/superapp",
    owner_kind="company", owner_name="デモ観光株式会社", contact_email="demo@balloon-guide.example.jp",
    requested_attributes=["nickname", "age_band"],
)


def _admin() -> User | None:
    return User.objects.filter(kind=User.Kind.STAFF, is_superuser=True).order_by("id").first()


class Command(BaseCommand):
    help = "Seed demo mini-app data (an external mini-app shared by Saga, welcome announcements)."

    def handle(self, *args, **options):
        municipalities = {m.code: m for m in Municipality.objects.filter(code__in=["412015", "412104"])}
        saga = municipalities.get("412015")
        if saga is None:
            self.stdout.write("佐賀市がありません。先に seed_demo を実行してください / Run seed_demo first.")
            return
        with schema_context(saga.schema_name):
            app = ExternalMiniApp.objects.filter(slug=DEMO_APP["slug"]).first()
            if app is None:
                fields = dict(DEMO_APP)
                app = services.external_miniapp_create(publisher=saga, slug=fields.pop("slug"), acting_user=_admin(),
                                                       **fields)
            if app.status != ExternalMiniApp.Status.PUBLISHED:
                services.external_miniapp_set_status(app=app, status="published", acting_user=_admin())
        for municipality in municipalities.values():
            with schema_context(municipality.schema_name):
                admin = _admin()
                if not CatalogEntry.objects.filter(miniapp_id=app.slug).exists():
                    services.catalog_add_external(miniapp_id=app.slug, acting_user=admin)
                if not Announcement.objects.filter(title__startswith="アプリへようこそ").exists():
                    now = timezone.now()
                    announcement_create(
                        acting_user=admin, title=f"アプリへようこそ（{municipality.name}）",
                        title_en=f"Welcome to the {municipality.name_en or municipality.name} app",
                        body="ホーム画面のミニアプリは長押しで並べ替えられます。ご意見はご意見投稿からどうぞ。",
                        body_en="Long-press a mini-app on the home screen to reorder. Tell us what you think "
                                "through Feedback.",
                        starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(days=365), show_as_popup=True)
            self.stdout.write(f"{municipality.name}: {app.name} を有効化、お知らせを掲載 / mini-app enabled, "
                              "announcement published")
