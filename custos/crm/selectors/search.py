"""The one search box: companies, contacts, leads and deals the actor may see, best first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import models
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from custos.core.actor import Actor
from custos.crm.models import Company, Contact, Deal, Lead
from custos.crm.search import visible_search_fields
from custos.crm.selectors.records import scoped
from custos.search.services import find

TYPES: dict[str, type[models.Model]] = {"contact": Contact, "company": Company, "lead": Lead, "deal": Deal}
# What a result's label is made of: loading no more spares decrypting special-category fields.
LABEL_FIELDS = {"contact": ("first_name", "last_name", "email"), "lead": ("first_name", "last_name", "email")}


@dataclass(frozen=True)
class Result:
    object_type: str
    object_id: uuid.UUID
    label: str
    score: float


def _label(actor: Actor, object_type: str, record: models.Model) -> str:
    hidden = actor.hidden_fields_of(object_type)
    if object_type in ("contact", "lead"):
        parts = [getattr(record, f) for f in ("first_name", "last_name") if f not in hidden and getattr(record, f)]
        if parts:
            return " ".join(parts)
        if "email" not in hidden and record.email:  # type: ignore[attr-defined]
            return str(record.email)  # type: ignore[attr-defined]
        return _("Contact %(reference)s") % {"reference": str(record.pk)[-6:]}
    if "name" in hidden:  # as the API gives it: null; the result says only what it is
        return _("%(kind)s %(reference)s") % {
            "kind": capfirst(str(TYPES[object_type]._meta.verbose_name)),
            "reference": str(record.pk)[-6:],
        }
    return str(record.name)  # type: ignore[attr-defined]


def global_search(actor: Actor, q: str, *, types: list[str] | None = None, limit: int = 20) -> list[Result]:
    """Ranked across types; only types the actor may view, only fields they may see."""
    wanted = [t for t in (types or list(TYPES)) if t in TYPES and actor.can(f"{t}.view")]
    fields = {t: visible_search_fields(actor, t) for t in wanted}
    fields = {t: names for t, names in fields.items() if names}
    hits = find(actor, q, fields=fields, limit=limit)
    by_type: dict[str, dict[uuid.UUID, models.Model]] = {}
    for object_type in {h.object_type for h in hits}:
        ids = [h.object_id for h in hits if h.object_type == object_type]
        records = TYPES[object_type]._default_manager.filter(pk__in=ids).only(*LABEL_FIELDS.get(object_type, ("name",)))
        by_type[object_type] = {r.pk: r for r in scoped(actor, records)}
    results = []
    for hit in hits:
        record = by_type.get(hit.object_type, {}).get(hit.object_id)
        if record is not None:  # gone, or out of scope since it was indexed
            results.append(Result(hit.object_type, hit.object_id, _label(actor, hit.object_type, record), hit.score))
    return results
