"""The access report (Art. 15) and the portability data (Art. 20), built from the declarations.

The JSON shape is documented in docs/privacy-reports.md and versioned by `schema`; the
XLSX, PDF and ZIP renderings are made from the same dictionary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.core.models import Organization
from custos.core.personal_data import Category, model_field
from custos.core.tenancy import require_org_id
from custos.privacy.models import ConsentEvent, Processor, Purpose, RetentionPolicy, Subject
from custos.privacy.models.consent import LegalBasis
from custos.privacy.registry import declarations, records_of
from custos.privacy.services.consent import in_language, purpose_text
from custos.privacy.services.hooks import key_labels

SCHEMA = "custos.access-report/1"
# Bookkeeping of the privacy engine itself, shown in its own sections rather than as records.
_ENGINE_MODELS = (
    "privacy.Subject",
    "privacy.KeptRecord",
    "privacy.LegalHold",
    "privacy.ConsentEvent",
    "privacy.PortalLink",
)


def plain(value: Any) -> Any:
    """A value as JSON can hold it."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _is_empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _detail(row: Any, name: str) -> Any:
    """A detail as the person reads it: a relation by its name, a choice by its label."""
    field = row._meta.get_field(name)
    value = getattr(row, name)
    if value is None or value == "":
        return None
    if field.is_relation:
        # A record may name itself for people outside the organisation (a practitioner by their
        # name, never their sign-in address).
        if hasattr(value, "public_name"):
            return value.public_name or None
        return str(value)
    if field.choices:
        return str(getattr(row, f"get_{name}_display")())
    return plain(value)


def _values(
    model: type[models.Model], name: str, value: Any, labels_of: Callable[[type[models.Model], str], Any]
) -> list[tuple[str, str, Any]]:
    """A field's value as (name, label, value), or, where it holds values under keys (a
    record's custom fields, the special ones as encrypted JSON text), one per key by its label."""
    if _is_empty(value):
        return []
    label = str(model_field(model, name).verbose_name)
    labels = labels_of(model, name)  # asked only of a value there is: most persons have none
    if labels is not None and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if labels is not None and isinstance(value, dict):
        return [
            (f"{name}.{key}", labels.get(key) or f"{label} ({key})", item)
            for key, item in value.items()
            if not _is_empty(item)
        ]
    return [] if _is_empty(value) else [(name, label, value)]


def _has_user(model: Any) -> bool:
    return any(field.name == "user" for field in model._meta.concrete_fields)


def _records(subject: Subject) -> list[dict[str, Any]]:
    records = []
    labels_of = functools.cache(key_labels)  # for this report: the labels as they are now
    for found in records_of(subject):
        declaration = found.declaration
        label = declaration.model._meta.label
        if declaration.copy_of_personal_data or label in _ENGINE_MODELS:
            continue
        names = [*declaration.fields, *declaration.profiling]
        if not names and not declaration.details:
            continue
        meta = declaration.model._meta
        related = [name for name in declaration.details if meta.get_field(name).is_relation]
        # And what those name themselves by: a practitioner's user (one query, not one a row).
        related += [f"{name}__user" for name in related if _has_user(meta.get_field(name).related_model)]
        rows = found.queryset.select_related(*related) if related else found.queryset
        for row in rows.order_by("pk"):
            fields = []
            for name in names:
                category = declaration.fields.get(name)
                for key, field_label, value in _values(declaration.model, name, getattr(row, name), labels_of):
                    fields.append(
                        {
                            "name": key,
                            "label": field_label,
                            "category": str(category) if category else "profiling",
                            "value": plain(value),
                        }
                    )
            details = [
                {"name": name, "label": str(model_field(declaration.model, name).verbose_name), "value": value}
                for name in declaration.details
                if (value := _detail(row, name)) is not None
            ]
            created = getattr(row, "created_at", None)
            records.append(
                {
                    "type": label,
                    "label": str(meta.verbose_name),
                    "id": str(row.pk),
                    "created_at": plain(created),
                    "details": details,
                    "fields": fields,
                }
            )
    return records


def _purposes(language: str) -> list[dict[str, Any]]:
    purposes = []
    for purpose in Purpose.objects.filter(is_active=True).order_by("key"):
        text = purpose_text(purpose)
        purposes.append(
            {
                "key": purpose.key,
                "name": in_language(text.names, language),
                "description": in_language(text.descriptions, language),
                "legal_basis": purpose.legal_basis,
                "legal_basis_label": str(LegalBasis(purpose.legal_basis).label),
                "version": purpose.version,
            }
        )
    return purposes


def _consents(subject: Subject) -> list[dict[str, Any]]:
    return [
        {
            "purpose": event.purpose.key,
            "purpose_version": event.purpose_version,
            "action": event.action,
            "occurred_at": plain(event.occurred_at),
            "source": event.source,
            "text_shown": event.text_shown,
            "confirmed_at": plain(event.confirmed_at),
            "expires_at": plain(event.expires_at),
            "ip": event.ip,
        }
        for event in ConsentEvent.objects.filter(subject=subject)
        .select_related("purpose")
        .order_by("occurred_at", "pk")
    ]


def _recipients() -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "service": p.service,
            "country": p.location,
            "safeguard": p.safeguard,
            "safeguard_label": str(Processor.Safeguard(p.safeguard).label),
        }
        for p in Processor.objects.filter(is_active=True).order_by("name")
    ]


def _retention(record_types: set[str]) -> list[dict[str, Any]]:
    keys = {
        d.retention: d.model._meta.label for d in declarations() if d.retention and d.model._meta.label in record_types
    }
    policies = {p.key: p for p in RetentionPolicy.objects.filter(key__in=keys, is_enabled=True)}
    retention = []
    for key, label in sorted(keys.items()):
        policy = policies.get(key)
        retention.append(
            {
                "type": label,
                "policy": key,
                "condition": policy.condition if policy else None,
                "days": policy.days if policy else None,
                "action": policy.action if policy else None,
                "period": (
                    _("%(action)s %(days)d days after %(condition)s")
                    % {
                        "action": RetentionPolicy.Action(policy.action).label,
                        "days": policy.days,
                        "condition": RetentionPolicy.Condition(policy.condition).label,
                    }
                    if policy
                    else _("kept while the relationship lasts, then erased on request")
                ),
            }
        )
    return retention


def _profiling(records: list[dict[str, Any]]) -> dict[str, Any]:
    profiled = any(f["category"] == "profiling" for r in records for f in r["fields"])
    return {
        "applies": profiled,
        "logic": _(
            "Leads receive points from rules the organisation sets (for example country, company size or "
            "recent activity); the score orders the sales team's work. It has no legal or similarly "
            "significant effect, every score lists the rules that gave it, and you may object to it."
        )
        if profiled
        else "",
    }


def access_report(subject: Subject, *, language: str = "en") -> dict[str, Any]:
    """Everything stored about the person, and the Art. 15(1) information around it."""
    # Labels (field names, categories, legal bases, retention periods) are translated as they
    # are read, so the whole report is built in the person's language, not the caller's.
    with translation.override(language):
        return _access_report(subject, language)


def _access_report(subject: Subject, language: str) -> dict[str, Any]:
    org = Organization.objects.get(pk=require_org_id())
    records = _records(subject)
    consents = _consents(subject)
    categories = sorted({f["category"] for r in records for f in r["fields"] if f["category"] != "profiling"})
    return {
        "schema": SCHEMA,
        "generated_at": plain(timezone.now()),
        "language": language,
        "controller": {"name": org.name, "country": org.country},
        "subject": {"reference": subject.reference, "state": subject.state},
        "records": records,
        "categories": [{"key": c, "label": Category(c).label} for c in categories],
        "purposes": _purposes(language),
        "consents": consents,
        "recipients": _recipients(),
        "retention": _retention({r["type"] for r in records}),
        # Where the data came from, as far as the ledger says; records entered by staff say "staff".
        "sources": sorted({e["source"] for e in consents} | ({"staff"} if records else set())),
        "automated_decisions": _profiling(records),
    }


def portability_data(subject: Subject) -> dict[str, list[dict[str, Any]]]:
    """The data the person provided (Art. 20), per record type: personal fields only, no
    profiling results, no staff notes about them."""
    provided: dict[str, list[dict[str, Any]]] = {}
    for record in _records(subject):
        values = {
            f["name"]: f["value"]
            for f in record["fields"]
            if f["category"] in (Category.IDENTITY, Category.CONTACT, Category.ONLINE_IDENTIFIER)
        }
        if values:
            provided.setdefault(record["type"], []).append({"id": record["id"], **values})
    return provided
