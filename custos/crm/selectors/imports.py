"""Reads of import jobs: the access function every face fetches a job through, and the list."""

from __future__ import annotations

from typing import Any

from django.db import models

from custos.core.actor import Actor, RecordScope
from custos.core.errors import PermissionDenied
from custos.core.lookup import get_or_not_found
from custos.crm.imports import IMPORT_FIELDS
from custos.crm.models import ImportJob


def _imports_of(actor: Actor, action: str) -> models.QuerySet[ImportJob]:
    """Jobs of the object types the actor may `action`, narrowed by their record scope to the
    jobs they (or their team) started: a job names its file, and files often name people."""
    object_types = [t for t in IMPORT_FIELDS if actor.can(f"{t}.{action}")]
    if not object_types:
        raise PermissionDenied(f"contact.{action}")
    queryset = ImportJob.objects.filter(object_type__in=object_types)
    if actor.record_scope == RecordScope.TEAM:
        return queryset.filter(created_by_id__in=actor.team_member_ids)
    if actor.record_scope == RecordScope.OWN:
        return queryset.filter(created_by_id=actor.user_id)
    return queryset


def access_import(actor: Actor, import_id: Any, *, write: bool = False) -> ImportJob:
    """The import job if the actor may look at it (`<type>.view`), or run it with write
    (`<type>.add`); NotFound for other organisations' jobs and for missing ones alike."""
    return get_or_not_found(_imports_of(actor, "add" if write else "view"), pk=import_id)


def import_list(actor: Actor) -> models.QuerySet[ImportJob]:
    """The import jobs the actor may look at, newest first."""
    return _imports_of(actor, "view").order_by("-created_at")
