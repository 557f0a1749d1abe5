"""What the declarations say, collected: other modules ask here, never per model.

Access reports, portability, erasure, retention and the Art. 30 record all walk this
registry, so a new model is covered as soon as it declares itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

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


def linked_to(model: type[models.Model], path: str, subject: Subject) -> Q:
    """Rows reaching the subject by `path`. A path through one relation (`contact__subject`)
    becomes `contact IN (the subject's contacts)`: with several paths OR-ed, a join per path
    would keep the database from using the foreign keys' indexes."""
    relation, _, rest = path.partition("__")
    if rest != "subject":
        return Q(**{path: subject})
    related = model._meta.get_field(relation).related_model
    assert related is not None and not isinstance(related, str)
    return Q(**{f"{relation}__in": related._default_manager.filter(subject=subject).values("pk")})


def records_of(subject: Subject) -> Iterator[SubjectRecords]:
    """Every record of the subject, model by model, each an indexed query."""
    for declaration in subject_models():
        linked = Q()
        for path in declaration.subject_paths:
            linked |= linked_to(declaration.model, path, subject)
        yield SubjectRecords(declaration, declaration.model._default_manager.filter(linked))
