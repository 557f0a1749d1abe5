"""What the scheduling actions share: the audited delete (never a restricted person's) and month arithmetic."""

from __future__ import annotations

import calendar
from datetime import date

from django.db import models, transaction

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.privacy.services.restriction import require_processable


def delete_audited(actor: Actor, record: models.Model, object_type: str) -> None:
    """Delete a record with its audit entry (the permission is the caller's to check); a
    restricted person's is kept."""
    require_processable(record, removing=True)
    with transaction.atomic():
        audit_record(actor=actor, action=f"{object_type}.delete", object_type=object_type, object_id=record.pk)
        record.delete()


def add_months(day: date, months: int) -> date:
    """The same day so many months on; the 31st becomes the month's last day where it has none."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
