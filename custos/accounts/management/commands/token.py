"""`custos token create --org SLUG --user EMAIL [--scope …] [--expires-days N]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from custos.accounts.access import actor_for
from custos.accounts.models import Membership
from custos.accounts.services import token_create
from custos.core.actor import Via
from custos.core.errors import ValidationFailed
from custos.core.tenancy import tenant_scope

# Domain field name → the option a script typed.
OPTION_OF = {"scopes": "scope", "name": "name", "expires_days": "expires-days"}


class Command(BaseCommand):
    help = "Manage API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token; it is printed alone on the last line.")
        create.add_argument("--org", required=True, help="The organisation's short name (slug).")
        create.add_argument("--user", required=True, help="The member's email address.")
        create.add_argument(
            "--scope", default="read", help="read, write, admin, or AREA:read / AREA:write; comma-separated."
        )
        create.add_argument("--expires-days", type=int, default=90, help="Days until it expires (default 90).")
        create.add_argument("--name", default="Created on the command line")

    def handle(self, *args: Any, **options: Any) -> None:
        membership = (
            Membership.objects.select_related("org", "user")
            .filter(org__slug=options["org"], user__email__iexact=options["user"], is_active=True, user__is_active=True)
            .first()
        )
        if membership is None:
            raise CommandError(f"{options['user']} is not a member of an organisation with slug {options['org']!r}.")
        with tenant_scope(membership.org_id):
            actor = actor_for(membership, via=Via.CLI)
            try:
                _, plaintext = token_create(
                    actor=actor,
                    name=options["name"],
                    scopes=[s.strip() for s in options["scope"].split(",") if s.strip()],
                    expires_days=options["expires_days"],
                )
            except ValidationFailed as error:
                raise CommandError(
                    "; ".join(
                        f"--{OPTION_OF.get(e.field or '', e.field or 'name').replace('_', '-')}: {e.message}"
                        for e in error.errors
                    )
                ) from None
        self.stdout.write(plaintext)
