"""Platform operators' review of an external mini-app in the shared catalog, for any publisher:

    manage.py miniapp_review <id> suspended    # off every municipality's home screen at once
    manage.py miniapp_review <id> published
"""
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from miniapps.catalog.models import ExternalMiniApp
from miniapps.services import external_miniapp_set_status


class Command(BaseCommand):
    help = "Set the review status (draft, published, suspended) of an external mini-app."

    def add_arguments(self, parser):
        parser.add_argument("miniapp_id")
        parser.add_argument("status", choices=ExternalMiniApp.Status.values)

    def handle(self, *args, miniapp_id, status, **options):
        app = ExternalMiniApp.objects.select_related("publisher").filter(slug=miniapp_id).first()
        if app is None:
            raise CommandError(f"no external mini-app {miniapp_id!r}")
        # The audit row goes to the publisher's log, beside its staff's own changes.
        with schema_context(app.publisher.schema_name):
            external_miniapp_set_status(app=app, status=status, acting_user=None)
        self.stdout.write(f"{miniapp_id}: {status} (publisher {app.publisher.name})")
