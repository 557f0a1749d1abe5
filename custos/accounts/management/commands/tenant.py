"""`custos tenant create --name … --owner … [--country DE]`: a new organisation.
`custos tenant offboard --org SLUG --export PATH [--cancel]`: the contract ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from custos.accounts.offboarding import offboarding_cancel, offboarding_start, organization_export
from custos.accounts.services import organization_create
from custos.core.errors import ValidationFailed
from custos.core.models import Organization


class Command(BaseCommand):
    help = "Manage organisations (tenants)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create an organisation with an owner.")
        create.add_argument("--name", required=True)
        create.add_argument("--owner", required=True, help="The owner's email address.")
        create.add_argument("--country", default="DE", help="Two-letter country code (default DE).")
        offboard = sub.add_parser(
            "offboard",
            help="Export everything and schedule irrecoverable deletion after a 30-day grace period.",
        )
        offboard.add_argument("--org", required=True, help="The organisation's slug.")
        offboard.add_argument("--export", help="Where to write the complete export (a ZIP).")
        offboard.add_argument("--cancel", action="store_true", help="Stop a scheduled deletion.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "offboard":
            self._offboard(options)
            return
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

    def _offboard(self, options: dict[str, Any]) -> None:
        org = Organization.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"--org: no organisation with the short name {options['org']!r}")
        if options["cancel"]:
            offboarding_cancel(org=org)
            self.stdout.write("deletion cancelled")
            return
        if not options["export"]:
            raise CommandError("--export: say where to write the organisation's complete export")
        target = Path(options["export"])
        target.write_bytes(organization_export(org))
        target.chmod(0o600)
        org = offboarding_start(org=org)
        assert org.delete_after is not None
        self.stdout.write(f"export: {target}")
        self.stdout.write(f"delete_after: {org.delete_after.isoformat()}")
