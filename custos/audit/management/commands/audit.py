"""`custos audit verify [--org SLUG]`: exit non-zero, naming the first broken link.

Each successful run remembers every chain's end in a file outside the database
(`var/audit-anchors.json` by default): whoever can write to the database cannot roll a
chain back to an older end without the next run noticing.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from custos.audit.models import AuditEntry
from custos.audit.services import Anchor, audit_head, audit_verify
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope


def _load(path: Path) -> dict[str, Anchor]:
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    return {org: Anchor(seq=int(value["seq"]), hash=str(value["hash"])) for org, value in raw.items()}


def _save(path: Path, anchors: dict[str, Anchor]) -> None:
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".audit-anchors-")
    temporary = Path(name)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({org: {"seq": a.seq, "hash": a.hash} for org, a in sorted(anchors.items())}, handle, indent=1)
    temporary.replace(path)


class Command(BaseCommand):
    help = "Check the audit chains."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="Verify every organisation's chain (or one).")
        verify.add_argument("--org", help="Only this organisation (slug).")
        verify.add_argument(
            "--anchors",
            default=str(Path(settings.VAR_DIR) / "audit-anchors.json"),
            help="File of chain ends seen intact before (outside the database); updated after a clean run.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        orgs = Organization.objects.order_by("slug")
        if options.get("org"):
            orgs = orgs.filter(slug=options["org"])
            if not orgs.exists():
                raise CommandError(f"No organisation with slug {options['org']!r}.")
        anchors_path = Path(options["anchors"])
        anchors = _load(anchors_path)
        broken = []
        for org in orgs:
            found = audit_verify(org.pk, anchor=anchors.get(str(org.pk)))
            with tenant_scope(org.pk):
                count = AuditEntry.objects.count()
            if found is None:
                self.stdout.write(f"ok      {org.slug}: {count} entries, chain intact")
                head = audit_head(org.pk)
                if head is not None:
                    anchors[str(org.pk)] = head
            else:
                self.stdout.write(f"BROKEN  {org.slug}: {found}")
                broken.append(f"{org.slug}: {found}")
        _save(anchors_path, anchors)
        if broken:
            raise CommandError(f"audit chain broken in {len(broken)} organisation(s); first: {broken[0]}")
