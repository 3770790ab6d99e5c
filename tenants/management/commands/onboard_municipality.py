"""python manage.py onboard_municipality --code 412015 --name 佐賀市 --domain saga.localhost \
    --admin-email admin@saga.example --admin-password ..."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from superapp.api.errors import ApiError
from tenants.services import municipality_onboard


class Command(BaseCommand):
    help = "Onboard a municipality: schema, domain, default settings and its first admin (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--code", required=True, help="全国地方公共団体コード, 6 digits with check digit (412015)")
        parser.add_argument("--name", required=True, help="名称 (佐賀市)")
        parser.add_argument("--domain", required=True, help="host name (saga.localhost)")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--name-kana", default="")
        parser.add_argument("--name-en", default="")
        parser.add_argument("--prefecture", default="")
        parser.add_argument("--schema", default=None, help="schema name (default: the domain's first label)")

    def handle(self, *args, **options):
        try:
            result = municipality_onboard(
                code=options["code"], name=options["name"], domain=options["domain"],
                admin_email=options["admin_email"], admin_password=options["admin_password"],
                name_kana=options["name_kana"], name_en=options["name_en"], prefecture=options["prefecture"],
                schema_name=options["schema"],
            )
        except ApiError as exc:
            details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.fields.items())
            raise CommandError(f"{exc.message} / {exc.message_en} {details}") from None
        style = self.style.SUCCESS if result.created else self.style.WARNING
        self.stdout.write(style(f"{result.message}\n{result.message_en}"))
