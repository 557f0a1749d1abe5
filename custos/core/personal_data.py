"""The vocabulary of personal-data declarations.

Every model of a Custos app carries an inner `class Privacy` that says, for each of its
fields, what it holds; person-related models also say how a row reaches its data
subject, what erasure does to it, and which retention policy governs it. Access
reports, erasure, retention, encryption, read auditing and the Art. 30 record are
derived from these declarations (`custos.privacy.registry`). `manage.py check` refuses
a model with an undeclared field (see `custos.core.checks`).

    class Privacy:
        subject = "subject"                       # path(s) to the Subject, or None
        fields = {"first_name": IDENTITY, "email": CONTACT, "notes": FREE_TEXT}
        not_personal = ("id", "org", "subject", "created_at")
        on_erasure = ANONYMISE
        retention = "contact.inactive"

Optional: `copy_of_personal_data = True` on derived rows (the search index), which erasure
removes but access reports leave out; `copies = ("search_text",)` for a row's own fields
derived from its declared ones (the record's search text), emptied with them by every
anonymisation and otherwise left out like the search index; `profiling = ("score", ...)`
names fields holding the result of automated profiling, shown with its logic in access
reports; `details = ("service", "starts_at")` names not-personal fields that say what a
record of the person is (its kind, time, service, status), shown beside its values in access
reports: alone they identify no one, but once the record is the person's they are about them;
`keep_years` and `keep_because` for KEEP_RESTRICTED models: how long the law keeps
a record, and which law; `rectify = False` where a request's correction of a field must not
overwrite every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(StrEnum):
    IDENTITY = "identity"
    CONTACT = "contact"
    FREE_TEXT = "free_text"
    FINANCIAL = "financial"
    ONLINE_IDENTIFIER = "online_identifier"
    SPECIAL = "special"  # Art. 9 GDPR: health, religion, biometrics…

    @property
    def label(self) -> str:
        return str(CATEGORY_LABELS[self])


CATEGORY_LABELS = {
    Category.IDENTITY: _("Identity"),
    Category.CONTACT: _("Contact details"),
    Category.FREE_TEXT: _("Free text"),
    Category.FINANCIAL: _("Financial data"),
    Category.ONLINE_IDENTIFIER: _("Online identifiers"),
    Category.SPECIAL: _("Special-category data (Art. 9 GDPR)"),
}


class Erasure(StrEnum):
    ANONYMISE = "anonymise"
    DELETE = "delete"
    KEEP_RESTRICTED = "keep_restricted"  # legal hold: kept, restricted, deleted later


IDENTITY = Category.IDENTITY
CONTACT = Category.CONTACT
FREE_TEXT = Category.FREE_TEXT
FINANCIAL = Category.FINANCIAL
ONLINE_IDENTIFIER = Category.ONLINE_IDENTIFIER
SPECIAL = Category.SPECIAL
ANONYMISE = Erasure.ANONYMISE
DELETE = Erasure.DELETE
KEEP_RESTRICTED = Erasure.KEEP_RESTRICTED


@dataclass(frozen=True)
class Declaration:
    """A model's Privacy class, read once and checked."""

    model: type[models.Model]
    subject: str | tuple[str, ...] | None
    fields: dict[str, Category]
    not_personal: tuple[str, ...]
    on_erasure: Erasure | None
    retention: str | None
    copy_of_personal_data: bool = False
    copies: tuple[str, ...] = ()
    profiling: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    keep_years: int | None = None
    keep_because: str = ""
    # False for rows a request's field-wide correction must not overwrite: a contact's further
    # emails, each its own value (corrected one by one, by staff or in the portal).
    rectify: bool = True

    @property
    def subject_paths(self) -> tuple[str, ...]:
        """The ways a row reaches its person; a row linked by any of them belongs to them."""
        if self.subject is None or self.subject == "self":
            return ()
        return (self.subject,) if isinstance(self.subject, str) else tuple(self.subject)

    @property
    def personal_fields(self) -> dict[str, Category]:
        return dict(self.fields)

    def fields_of(self, category: Category) -> list[str]:
        return [name for name, cat in self.fields.items() if cat == category]


def declared_field_names(model: type[models.Model]) -> list[str]:
    """The names a declaration must cover: every concrete field and many-to-many."""
    return [f.name for f in model._meta.concrete_fields] + [f.name for f in model._meta.many_to_many]


def read_declaration(model: type[models.Model]) -> Declaration | None:
    privacy: Any = getattr(model, "Privacy", None)
    if privacy is None:
        return None
    return Declaration(
        model=model,
        subject=getattr(privacy, "subject", None),
        fields={name: Category(cat) for name, cat in getattr(privacy, "fields", {}).items()},
        not_personal=tuple(getattr(privacy, "not_personal", ())),
        on_erasure=Erasure(privacy.on_erasure) if getattr(privacy, "on_erasure", None) else None,
        retention=getattr(privacy, "retention", None),
        copy_of_personal_data=bool(getattr(privacy, "copy_of_personal_data", False)),
        copies=tuple(getattr(privacy, "copies", ())),
        profiling=tuple(getattr(privacy, "profiling", ())),
        details=tuple(getattr(privacy, "details", ())),
        keep_years=getattr(privacy, "keep_years", None),
        keep_because=str(getattr(privacy, "keep_because", "")),
        rectify=bool(getattr(privacy, "rectify", True)),
    )


def model_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """A declared field: always a concrete field or many-to-many, never a reverse relation."""
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field)
    return found
