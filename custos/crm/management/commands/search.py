"""`custos search reindex [--org SLUG]`: rebuild the search index from the records."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.search import reindex_all
from custos.search.models import SearchEntry


class Command(BaseCommand):
    help = "Manage the search index."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        reindex = sub.add_parser("reindex", help="Rebuild the index of every organisation (or one).")
        reindex.add_argument("--org", help="Only this organisation (slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organization.objects.order_by("slug")
        if options.get("org"):
            orgs = orgs.filter(slug=options["org"])
            if not orgs.exists():
                raise CommandError(f"No organisation with slug {options['org']!r}.")
        for org in orgs:
            with tenant_scope(org.pk), transaction.atomic():
                SearchEntry.objects.all().delete()
                count = reindex_all()
            self.stdout.write(f"{org.slug}: {count} records indexed")
