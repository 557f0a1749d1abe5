"""The erasure journal: which person was erased when, kept outside the database.

A restored backup holds people as they were when it was taken, erased ones included. The
journal lives beside the database (under `VAR_DIR`, not in any tenant's tables, not in
backups), so `custos restore` can erase again everyone erased after the backup was taken.
One JSON line per erasure, ids and a time only: never a name, an email or any other value.
Append-only, readable by the service account alone (mode 0600).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from custos.core.journals import journal_file, journal_read, journal_write

FILE_NAME = "erasures.jsonl"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    org_id: uuid.UUID
    subject_id: uuid.UUID
    erased_at: dt.datetime


def journal_path() -> Path:
    return journal_file(FILE_NAME)


def journal_append(*, org_id: uuid.UUID, subject_id: uuid.UUID) -> JournalEntry:
    """Record an erasure that has committed. The time is taken now, after the commit, so an
    erasure that a backup's snapshot missed is always dated after the backup began."""
    entry = JournalEntry(org_id=org_id, subject_id=subject_id, erased_at=timezone.now())
    journal_write(
        FILE_NAME,
        {"org": str(entry.org_id), "subject": str(entry.subject_id), "erased_at": entry.erased_at.isoformat()},
    )
    return entry


def journal_entries(*, after: dt.datetime | None = None) -> Iterator[JournalEntry]:
    """Every recorded erasure (those after the given time only, if one is given), oldest first."""
    for raw in journal_read(FILE_NAME):
        try:
            entry = JournalEntry(
                org_id=uuid.UUID(raw["org"]),
                subject_id=uuid.UUID(raw["subject"]),
                erased_at=dt.datetime.fromisoformat(raw["erased_at"]),
            )
        except (ValueError, KeyError, TypeError):
            continue  # not an erasure this version wrote
        if after is None or entry.erased_at > after:
            yield entry


def journal_replay(*, after: dt.datetime) -> list[JournalEntry]:
    """Erase again everyone the journal says was erased after the given time (when a restored
    backup was taken), as the system; answers the erasures carried out again.

    A person the backup does not know (recorded after it) is skipped; so is an organisation
    it does not hold. A legal hold the backup still shows active was released before the
    erasure happened (erasure refuses while one is active), so it is released again first.
    """
    from custos.core.actor import Actor
    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope
    from custos.privacy.models import LegalHold, Subject
    from custos.privacy.services.erasure import subject_erase
    from custos.privacy.services.retention import is_hold_active, legal_hold_release

    replayed: list[JournalEntry] = []
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for entry in journal_entries(after=after):
        if (entry.org_id, entry.subject_id) in seen:
            continue
        seen.add((entry.org_id, entry.subject_id))
        if not Organization.objects.filter(pk=entry.org_id).exists():
            continue
        actor = Actor.system(entry.org_id, permissions=frozenset({"subject.erase", "retention_policy.change"}))
        with tenant_scope(entry.org_id):
            subject = Subject.objects.filter(pk=entry.subject_id).first()
            if subject is None:
                continue
            for hold in LegalHold.objects.filter(subject=subject, released_at__isnull=True):
                if is_hold_active(hold):
                    legal_hold_release(actor=actor, hold=hold)
            subject_erase(actor=actor, subject=subject)
        replayed.append(entry)
    return replayed
