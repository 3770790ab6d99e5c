"""python manage.py create_platform_operator --username ops --password '...' [--email ops@example.jp]

Creates a platform operator (a staff user of the public schema) who signs in at /platform/ on the
bare platform host. The password may also come from PLATFORM_OPERATOR_PASSWORD, so that it does not
have to appear in the shell history or the process list."""
from __future__ import annotations

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from admin_console.platform.services import platform_operator_create
from superapp.api.errors import ApiError


class Command(BaseCommand):
    help = "Create a platform operator (public schema) for the /platform/ console."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", default=os.environ.get("PLATFORM_OPERATOR_PASSWORD"),
                            help="or set PLATFORM_OPERATOR_PASSWORD")
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, password: str | None, email: str, **options):
        if not password:
            raise CommandError("--password (or PLATFORM_OPERATOR_PASSWORD) is required")
        connection.set_schema_to_public()
        try:
            user = platform_operator_create(username=username, password=password, email=email)
        except ApiError as exc:
            details = "; ".join(message for messages in exc.fields.values() for message in messages)
            raise CommandError(f"{exc.message_en} {details}".strip()) from None
        self.stdout.write(self.style.SUCCESS(f"Platform operator {user.username} created; sign in at /platform/."))
