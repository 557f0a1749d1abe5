"""Custom fields on the record pages: what a form shows, and values as people read them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from custos.core.actor import Actor
from custos.crm.models import CustomField
from custos.crm.services.custom_fields import SPECIAL_ALLOWED, fields_of, read_special, special_values
from custos.web.forms import custom_initial


@dataclass(frozen=True)
class CustomSetup:
    definitions: list[CustomField]
    special: bool  # whether the form shows (and writes) special-category data
    initial: dict[str, Any]  # form fields: the custom values, and the built-in special ones asked for


def may_write_special(actor: Actor, object_type: str) -> bool:
    return (
        object_type in SPECIAL_ALLOWED and actor.can("special_category.change") and actor.can("special_category.view")
    )


def form_setup(
    actor: Actor, object_type: str, record: models.Model | None = None, *, shown: bool, builtin: Iterable[str] = ()
) -> CustomSetup:
    """The custom fields of a record's form and its current values, special-category ones
    (custom, and the built-in fields named) included for a role that may write them. `shown`:
    the form is being displayed, so filling it with special-category data is a logged read;
    otherwise the values are only compared with what was posted."""
    # A role that may not see the custom fields gets none of them, to read or to write.
    definitions = fields_of(object_type) if actor.may_see_field(object_type, "custom_fields") else []
    special = may_write_special(actor, object_type)
    if record is None:
        return CustomSetup(definitions, special, {})
    values = dict(getattr(record, "custom_fields", None) or {})
    initial: dict[str, Any] = {}
    if special and shown:
        revealed = read_special(actor=actor, record=record, object_type=object_type, builtin=builtin)
        values |= revealed.pop("custom_fields")
        initial |= revealed
    elif special:
        values |= special_values(record)
        initial |= {name: getattr(record, name) for name in builtin}
    return CustomSetup(definitions, special, initial | custom_initial(definitions, values))


def shown_value(definition: CustomField, value: Any) -> str:
    """A stored value as a person reads it, in their language; one the field's kind cannot
    read (stored before the definition changed) as it is, rather than failing the page."""
    if value is None or value == "" or value == []:
        return "—"
    try:
        match definition.kind:
            case CustomField.Kind.YES_NO:
                return _("Yes") if value is True else _("No") if value is False else str(value)
            case CustomField.Kind.MULTI_CHOICE:
                return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            case CustomField.Kind.DATE:
                return date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
            case CustomField.Kind.MONEY:
                return number_format(Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True)
            case CustomField.Kind.NUMBER if isinstance(value, int | float) and not isinstance(value, bool):
                return number_format(value, use_l10n=True, force_grouping=True)
    except (TypeError, ValueError, ArithmeticError):
        pass
    return str(value)


def shown_values(
    actor: Actor, record: models.Model, object_type: str, *, revealed: dict[str, Any] | None = None
) -> list[tuple[CustomField, str]]:
    """The record's custom fields with their values, for a detail page: those not special
    category or, given the values an audited read returned (`revealed`), the special-category
    ones. None for a role that may not see the custom fields."""
    if not actor.may_see_field(object_type, "custom_fields"):
        return []
    special = revealed is not None
    values = revealed if revealed is not None else getattr(record, "custom_fields", None) or {}
    return [
        (definition, shown_value(definition, values.get(definition.key)))
        for definition in fields_of(object_type)
        if definition.is_special == special
    ]


def detail_context(actor: Actor, record: models.Model, object_type: str, *, reveal: bool) -> dict[str, Any]:
    """What a lead's or deal's page shows of its custom fields; special-category values only
    when asked for (`reveal`), as a logged read."""
    possible = (
        actor.can("special_category.view")
        and actor.may_see_field(object_type, "custom_fields")
        and any(d.is_special for d in fields_of(object_type))
    )
    revealed = None
    if possible and reveal:
        revealed = read_special(actor=actor, record=record, object_type=object_type)["custom_fields"]
    return {
        "custom_values": shown_values(actor, record, object_type),
        "special_possible": possible,
        "has_special": bool(getattr(record, "custom_special", "")),
        "special_custom_values": []
        if revealed is None
        else shown_values(actor, record, object_type, revealed=revealed),
        "special_revealed": revealed is not None,
    }
