"""python manage.py offboard_municipality --code 412104 [--resume]"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from superapp.api.errors import ApiError
from tenants.services import municipality_resume, municipality_suspend


class Command(BaseCommand):
    help = "Suspend a municipality (its hosts answer 403; no data is deleted). --resume re-activates it."

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True)
        parser.add_argument("--resume", action="store_true", help="re-activate a suspended municipality")

    def handle(self, *args, **options):
        try:
            if options["resume"]:
                municipality = municipality_resume(code=options["code"])
                self.stdout.write(self.style.SUCCESS(
                    f"{municipality.name}（{municipality.code}）を再開しました。 / Resumed {municipality.code}."))
            else:
                municipality = municipality_suspend(code=options["code"])
                self.stdout.write(self.style.WARNING(
                    f"{municipality.name}（{municipality.code}）を停止しました。データは保持されます。"
                    f" / Suspended {municipality.code}; its data is kept."))
        except ApiError as exc:
            details = "; ".join(" ".join(messages) for messages in exc.fields.values())
            raise CommandError(f"{exc.message} / {exc.message_en} {details}") from None
