"""What the declarations say, collected: other modules ask here, never per model.

Access reports, portability, erasure, retention and the Art. 30 record all walk this
registry, so a new model is covered as soon as it declares itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import models
from django.db.models import Q

from custos.core.checks import custos_models
from custos.core.personal_data import Category, Declaration, read_declaration
from custos.privacy.models import Subject


@cache
def declarations() -> tuple[Declaration, ...]:
    found = []
    for model in custos_models():
        declaration = read_declaration(model)
        if declaration is not None:
            found.append(declaration)
    return tuple(found)


def declaration_of(model: type[models.Model]) -> Declaration:
    for declaration in declarations():
        if declaration.model is model:
            return declaration
    raise LookupError(f"{model._meta.label} has no Privacy declaration")


def personal_fields(model: type[models.Model]) -> dict[str, Category]:
    """Field name → category for every personal field of the model."""
    return declaration_of(model).personal_fields


def subject_models() -> tuple[Declaration, ...]:
    """Declarations of the models whose rows belong to a data subject."""
    return tuple(d for d in declarations() if d.subject_paths)


@dataclass(frozen=True)
class SubjectRecords:
    declaration: Declaration
    queryset: models.QuerySet[models.Model]


def _through(model: type[models.Model], path: str) -> tuple[str, type[models.Model], str] | None:
    """For a path through relations (`contact__subject`, `deal__contact__subject`): the first
    relation, its model and the rest of the path; None for the subject itself."""
    relation, _, rest = path.partition("__")
    if not rest:
        return None
    related = model._meta.get_field(relation).related_model
    assert related is not None and not isinstance(related, str)
    return relation, related, rest


def linked_to(model: type[models.Model], path: str, subject: Subject) -> Q:
    """Rows reaching the subject by `path`, as the condition of a statement of its own (erasure
    reads each path in a part of a UNION ALL). A path through relations (`contact__subject`)
    becomes `contact IN (the subject's contacts)`, hop by hop, which the foreign keys' indexes
    answer."""
    through = _through(model, path)
    if through is None:
        return Q(**{path: subject})
    relation, related, rest = through
    return Q(**{f"{relation}__in": related._default_manager.filter(linked_to(related, rest, subject)).values("pk")})


def records_of(subject: Subject) -> Iterator[SubjectRecords]:
    """Every record of the subject, model by model, each an indexed query.

    A path through relations (`contact__subject`) becomes `contact IN (ids)`, the ids of the
    subject's contacts read first (once per related model and path; `deal__contact__subject`
    reads the deals of the subject's contacts): with two `IN (subquery)` conditions
    OR-ed (an activity reaches the person as a contact or as a lead), PostgreSQL used neither
    foreign key's index and read every activity of the tenant; given values, it combines both
    indexes (a BitmapOr). The querysets stay plain ones, which callers filter, count and update."""
    ids_of: dict[tuple[type[models.Model], str], list[Any]] = {}
    for declaration in subject_models():
        linked = Q()
        for path in declaration.subject_paths:
            through = _through(declaration.model, path)
            if through is None:
                linked |= Q(**{path: subject})
                continue
            relation, related, rest = through
            if (related, rest) not in ids_of:
                ids_of[related, rest] = list(
                    related._default_manager.filter(linked_to(related, rest, subject)).values_list("pk", flat=True)
                )
            linked |= Q(**{f"{relation}__in": ids_of[related, rest]})
        yield SubjectRecords(declaration, declaration.model._default_manager.filter(linked))
