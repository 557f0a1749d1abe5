"""The filters and sort orders every list of contacts and companies offers (web, API, export).

Filters arrive as text from a query string; each bad one is a field error, so a typo never
silently shows everything. Special-category custom fields are encrypted and cannot be
filtered on; fields the actor's role may not see cannot be filtered on either.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import connection, models
from django.db.models.fields.json import KeyTransform
from django.db.models.lookups import Lookup
from django.utils.translation import gettext as _

from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Company, CustomField
from custos.crm.selectors.records import scoped
from custos.crm.services.custom_fields import fields_of, parse_number
from custos.privacy.models import Purpose
from custos.privacy.services.consent import processable
from custos.search.text import query

CUSTOM_PREFIX = "custom_fields."
ORDERINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "contact": {
        "created": ("pk",),
        "-created": ("-pk",),
        "name": ("last_name", "first_name", "pk"),
        "-name": ("-last_name", "-first_name", "-pk"),
    },
    "company": {"created": ("pk",), "-created": ("-pk",), "name": ("name", "pk"), "-name": ("-name", "-pk")},
    "deal": {"created": ("pk",), "-created": ("-pk",), "name": ("name", "pk"), "-name": ("-name", "-pk")},
}
ORDERINGS["lead"] = ORDERINGS["contact"]
# The filters each list offers besides custom fields.
FILTERS = {
    "contact": {"tag", "owner", "country", "company", "consent"},
    "company": {"tag", "owner", "country"},
    "lead": {"tag", "owner", "country", "consent"},
    "deal": {"tag", "owner", "company"},
}
YES = {"true", "1", "yes", "ja", "tak"}
NO = {"false", "0", "no", "nein", "nie"}


def list_order(object_type: str, value: str) -> tuple[str, ...]:
    """The fields a list is sorted by: `created` (the default), `name`, either with "-" for reverse."""
    orderings = ORDERINGS[object_type]
    if not value:
        return orderings["created"]
    if value not in orderings:
        raise ValidationFailed.single("order", _("Choose one of: %(choices)s.") % {"choices": ", ".join(orderings)})
    return orderings[value]


def _json_element(field: str, value: str) -> models.Q:
    """A JSON list holding exactly this string: by containment on PostgreSQL; on SQLite by
    comparing its elements (`_Holds`)."""
    if connection.vendor == "postgresql":
        return models.Q(**{f"{field}__contains": [value]})
    return models.Q(_Holds(models.F(field), value))


class _Holds(Lookup):
    """SQLite: one of the JSON list's elements is this string, in its case as PostgreSQL's
    containment has it (the stored text's LIKE would ignore case, and a quoted element would
    be found inside another: `x"vip` holds the text `"vip"`)."""

    def __init__(self, lhs: Any, value: str) -> None:
        self.value = value
        super().__init__(lhs, value)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        column, params = compiler.compile(self.lhs)
        return self.element(column), (*params, self.value)

    @staticmethod
    def element(column: str) -> str:
        # A compiled column; the value is a parameter.
        return f"EXISTS (SELECT 1 FROM json_each({column}) AS element WHERE element.value = %s)"  # noqa: S608


class _Tagged(_Holds):
    """SQLite: `tags <> '[]' AND instr(tags, '"<tag>"') > 0` before the element itself: the
    list's tags as Django stores them (with ASCII escapes) holding the quoted tag. The first
    condition is that of the index of tagged records (crm 0021), which a query must repeat
    literally (neither a parameter nor a comparison with true would do) for SQLite to use it;
    the others read the indexed column."""

    def __init__(self, tag: str) -> None:
        self.quoted = json.dumps(tag)
        super().__init__(models.F("tags"), tag)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        column, params = compiler.compile(self.lhs)
        sql = f"({column} <> '[]' AND instr({column}, %s) > 0 AND {self.element(column)})"
        return sql, (*params, *params, self.quoted, *params, self.value)


def tagged(value: str) -> models.Q:
    """Records carrying this tag: by containment on PostgreSQL, through the index of tagged
    records on SQLite."""
    return models.Q(_Tagged(value)) if connection.vendor == "sqlite" else _json_element("tags", value)


def _custom(cleaner: Cleaner, field: CustomField, raw: str, column: str) -> models.Q | None:
    """The condition on a custom value, read from `column` (the value's alias, see `filter_list`)."""
    name = f"{CUSTOM_PREFIX}{field.key}"
    match field.kind:
        case CustomField.Kind.TEXT | CustomField.Kind.LONG_TEXT:
            text = cleaner.text(name, raw, max_length=200)
            return models.Q(**{f"{column}__icontains": text}) if text else None
        case CustomField.Kind.CHOICE:
            return models.Q(**{f"{column}__exact": cleaner.choice(name, raw, field.options)})
        case CustomField.Kind.MULTI_CHOICE:
            return _json_element(column, cleaner.choice(name, raw, field.options))
        case CustomField.Kind.YES_NO:
            if raw.strip().lower() not in YES | NO:
                cleaner.fail(name, _("Use true or false."))
                return None
            return models.Q(**{f"{column}__exact": raw.strip().lower() in YES})
        case CustomField.Kind.NUMBER:
            number = parse_number(raw)
            if number is None:
                cleaner.fail(name, _("Enter a number."))
                return None
            return models.Q(**{f"{column}__exact": int(number) if number == int(number) else float(number)})
        case CustomField.Kind.MONEY:
            amount = cleaner.money(name, raw)
            return None if amount is None else models.Q(**{f"{column}__exact": str(amount)})
        case CustomField.Kind.DATE:
            day = cleaner.date(name, raw)
            return None if day is None else models.Q(**{f"{column}__exact": day.isoformat()})
    return None


def filter_list[M: models.Model](
    actor: Actor, object_type: str, queryset: models.QuerySet[M], params: Mapping[str, Any]
) -> models.QuerySet[M]:
    """Narrow a list by `tag`, `owner` (a member's id, or `me`), `country` (not deals), `company`
    (contacts and deals), `consent` (a purpose's key: the persons who may be processed for it
    now; contacts and leads) and `custom_fields.<key>`; empty values filter nothing."""
    cleaner = Cleaner()
    offered = FILTERS[object_type]
    hidden = actor.hidden_fields_of(object_type)
    conditions = models.Q()

    def given(name: str) -> str:
        value = params.get(name)
        text = query(value) if isinstance(value, str) else ""
        if not name.startswith(CUSTOM_PREFIX) and name not in offered:
            return ""  # not a filter of this list; its faces do not offer it
        if text and name.split(".")[0] in hidden:
            cleaner.fail(
                name, _("Your role does not allow this. Ask an administrator of your organisation if you need it.")
            )
            return ""
        return text

    if tag := given("tag"):
        conditions &= tagged(tag[:50])
    if owner := given("owner"):
        owner_id = actor.user_id if owner == "me" else _uuid(owner)
        if owner_id is None:
            cleaner.fail("owner", _("Choose a member of this organisation."))
        else:
            conditions &= models.Q(owner_id=owner_id)
    if country := cleaner.country("country", given("country")):
        conditions &= models.Q(country=country)
    if company := given("company"):
        company_id = _uuid(company)
        if company_id is None or not scoped(actor, Company.objects.filter(pk=company_id)).exists():
            cleaner.fail("company", _("Choose an existing company."))
        else:
            conditions &= models.Q(company_id=company_id)
    if key := given("consent"):
        purpose = Purpose.objects.filter(key=key).first()
        if not actor.can("consent.view"):  # who consented, objected or is restricted: the ledger's to tell
            cleaner.fail(
                "consent", _("Your role does not allow this. Ask an administrator of your organisation if you need it.")
            )
        elif purpose is None:
            cleaner.fail("consent", _("Choose a purpose of this organisation."))
        else:
            conditions &= processable(purpose)
    wanted = {name.removeprefix(CUSTOM_PREFIX): name for name in params if name.startswith(CUSTOM_PREFIX)}
    # Each value is read through an alias: as `custom_fields__<key>` a key that is a lookup's
    # name (`contains`, `isnull`, `lt`) would apply to the whole column, and one holding
    # "__" would be read as a path.
    values: dict[str, KeyTransform] = {}
    if wanted:
        by_key = {field.key: field for field in fields_of(object_type)}
        for key, name in sorted(wanted.items()):
            raw = given(name)
            field = by_key.get(key)
            column = f"custom_value_{len(values)}"
            if field is None:
                cleaner.fail(name[:80], _("There is no custom field with this key."))
            elif field.is_special:
                cleaner.fail(name, _("Special-category fields are encrypted and cannot be used as a filter."))
            elif raw and (condition := _custom(cleaner, field, raw, column)) is not None:
                values[column] = KeyTransform(key, "custom_fields")
                conditions &= condition
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return queryset.alias(**values).filter(conditions) if values else queryset.filter(conditions)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
