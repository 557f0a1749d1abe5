"""The audit log as a CSV file: for an auditor, a data-protection officer's own records, or a
log archive. Each row carries its link of the chain (`prev_hash`, `hash`), so a copy taken
today can be compared with the database later."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator, Mapping

from django.db import models, transaction

from custos.audit.models import AuditEntry
from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.cells import csv_cell
from custos.core.tenancy import tenant_scope

# Machine names, not translated: scripts read these files as well as people.
COLUMNS = (
    "seq",
    "at",
    "actor_user_id",
    "actor",
    "via",
    "action",
    "object_type",
    "object_id",
    "fields",
    "extra",
    "ip",
    "ip_truncated",
    "user_agent",
    "prev_hash",
    "hash",
)
BATCH = 2000


def audit_export(
    actor: Actor, entries: models.QuerySet[AuditEntry], *, names: Mapping[str, str], filters: list[str]
) -> Iterator[bytes]:
    """The entries, oldest first, as CSV chunks; `names` gives members' names by user id,
    `filters` the names of the filters applied. The export is itself audited, before it runs."""
    actor.require("audit.export")
    with transaction.atomic():
        audit_record(actor=actor, action="audit.export", object_type="audit", extra={"filters": sorted(filters)})
    return _chunks(actor.org_id, entries, names)


def _chunks(org_id: uuid.UUID, entries: models.QuerySet[AuditEntry], names: Mapping[str, str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield ("\ufeff" + buffer.getvalue()).encode()
    last = 0
    while True:
        # Each batch read inside the organisation's scope: a streamed response is consumed
        # after the view has returned, when the request's scope is gone.
        with tenant_scope(org_id):
            batch = list(entries.filter(seq__gt=last).order_by("seq")[:BATCH])
        if not batch:
            return
        buffer.seek(0)
        buffer.truncate()
        for entry in batch:
            writer.writerow([csv_cell(value) for value in _row(entry, names)])
        yield buffer.getvalue().encode()
        last = batch[-1].seq


def _row(entry: AuditEntry, names: Mapping[str, str]) -> list[str]:
    user = str(entry.actor_user_id or "")
    return [
        str(entry.seq),
        entry.at.isoformat(),
        user,
        names.get(user, ""),
        entry.via,
        entry.action,
        entry.object_type,
        entry.object_id,
        json.dumps(entry.fields, ensure_ascii=False),
        json.dumps(entry.extra, ensure_ascii=False, sort_keys=True),
        entry.ip or "",
        "yes" if entry.ip_truncated else "no",
        entry.user_agent,
        entry.prev_hash,
        entry.hash,
    ]
