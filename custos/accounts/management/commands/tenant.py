"""`custos tenant create --name … --owner … [--country DE]`: a new organisation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from custos.accounts.services import organization_create
from custos.core.errors import ValidationFailed


class Command(BaseCommand):
    help = "Manage organisations (tenants)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create an organisation with an owner.")
        create.add_argument("--name", required=True)
        create.add_argument("--owner", required=True, help="The owner's email address.")
        create.add_argument("--country", default="DE", help="Two-letter country code (default DE).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = organization_create(
                name=options["name"], owner_email=options["owner"], country=options["country"]
            )
        except ValidationFailed as error:
            raise CommandError("; ".join(f"--{e.field}: {e.message}" for e in error.errors)) from None
        self.stdout.write(f"slug: {created.org.slug}")
        if created.password is None:
            self.stderr.write("The owner already had an account; their password is unchanged.")
        self.stdout.write(f"password: {created.password or ''}")
