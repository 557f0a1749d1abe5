"""The organisation's own fields: their definitions, and the values records hold for them.

A value is checked against its field's kind. Values of a field declared special category
are stored encrypted apart from the rest (`custom_special`), written only with the right to
change special-category data and read only through an audited reveal, like built-in ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Func, Value
from django.db.models.functions import Cast, Length
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import ValidationFailed
from custos.core.validation import AMBIGUOUS, FIELD_KEY_PATTERN, Cleaner, is_ambiguous, read_number
from custos.crm.models import Company, Contact, CustomField, CustomValueRemoval, Deal, Lead

MODELS: dict[str, type[models.Model]] = {"company": Company, "contact": Contact, "lead": Lead, "deal": Deal}
# Special-category data is about a person: a company record cannot hold it.
SPECIAL_ALLOWED = frozenset({"contact", "lead", "deal"})
OPTION_KINDS = (CustomField.Kind.CHOICE, CustomField.Kind.MULTI_CHOICE)
MAX_FIELDS = 100
MAX_NUMBER = 10**15
# A deleted special-category field's values are decrypted and written back record by record:
# at once for up to this many records holding such values, in the background for more.
INLINE_REMOVAL = 1000


def fields_of(object_type: str) -> list[CustomField]:
    """The current organisation's fields for one object type, in their order."""
    return list(CustomField.objects.filter(object_type=object_type))


# Definitions ------------------------------------------------------------------------------


def _clean_options(cleaner: Cleaner, kind: str, value: Any) -> list[str]:
    if kind not in OPTION_KINDS:
        return []
    if not isinstance(value, list) or not value or len(value) > 100:
        cleaner.fail("options", _("Give between 1 and 100 options."))
        return []
    options = [cleaner.text("options", option, max_length=100, required=True) for option in value]
    if len({option.lower() for option in options}) != len(options):
        cleaner.fail("options", _("Each option may appear only once."))
    return options


def custom_field_create(*, actor: Actor, data: Mapping[str, Any]) -> CustomField:
    """A new field, last of its object type unless given a `position`. Not under the key of a
    deleted field whose values are still being removed: they would read as the new field's."""
    actor.require("organization.change")
    cleaner = Cleaner()
    for name in data:
        if name not in ("object_type", "key", "label", "kind", "options", "category", "position"):
            cleaner.fail(name, _("Unknown field."))
    object_type = cleaner.choice("object_type", data.get("object_type"), CustomField.ObjectType.values)
    key = cleaner.text("key", data.get("key"), max_length=50, required=True)
    if key and not FIELD_KEY_PATTERN.match(key):
        cleaner.fail("key", _("Start with a lower-case letter and use only a–z, 0–9 and _."))
    label = cleaner.text("label", data.get("label"), max_length=100, required=True)
    kind = cleaner.choice("kind", data.get("kind"), CustomField.Kind.values)
    category = cleaner.choice("category", data.get("category"), [c for c, _label in CustomField.CATEGORIES])
    if category == "special" and object_type and object_type not in SPECIAL_ALLOWED:
        cleaner.fail("category", _("Special-category data belongs to a person: add it to contacts, leads or deals."))
    options = _clean_options(cleaner, kind, data.get("options"))
    position = cleaner.integer("position", data.get("position"), minimum=0, maximum=MAX_FIELDS)
    if object_type and CustomField.objects.filter(object_type=object_type).count() >= MAX_FIELDS:
        cleaner.fail(None, _("An object type can have at most %(max)d custom fields.") % {"max": MAX_FIELDS})
    if key and object_type and CustomField.objects.filter(object_type=object_type, key=key).exists():
        cleaner.fail("key", _("A field with this key exists already."))
    elif key and object_type and not cleaner.errors and _values_remain(object_type, key, special=category == "special"):
        cleaner.fail(
            "key",
            _(
                "The values of a deleted field with this key are still being removed. "
                "Try again in a few minutes, or choose another key."
            ),
        )
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    try:
        with transaction.atomic():
            field = CustomField.objects.create(
                object_type=object_type,
                key=key,
                label=label,
                kind=kind,
                options=options,
                category=category,
                position=CustomField.objects.filter(object_type=object_type).count() if position is None else position,
            )
            audit_record(actor=actor, action="custom_field.create", object_type="custom_field", object_id=field.pk)
    except IntegrityError:
        raise ValidationFailed.single("key", _("A field with this key exists already.")) from None
    return field


def custom_field_update(*, actor: Actor, field: CustomField, data: Mapping[str, Any]) -> CustomField:
    """Label, options and position may change; key, kind and category stay what values were
    written under (to change them, add a new field)."""
    actor.require("organization.change")
    cleaner = Cleaner()
    for name in data:
        if name in ("object_type", "key", "kind", "category"):
            cleaner.fail(name, _("This cannot change once the field exists; add a new field instead."))
        elif name not in ("label", "options", "position"):
            cleaner.fail(name, _("Unknown field."))
    cleaned: dict[str, Any] = {}
    if "label" in data:
        cleaned["label"] = cleaner.text("label", data["label"], max_length=100, required=True)
    if "options" in data:
        cleaned["options"] = _clean_options(cleaner, field.kind, data["options"])
    if "position" in data:
        cleaned["position"] = cleaner.integer(
            "position", data["position"], minimum=0, maximum=MAX_FIELDS, required=True
        )
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    changed = sorted(name for name, value in cleaned.items() if getattr(field, name) != value)
    if changed:
        with transaction.atomic():
            for name in changed:
                setattr(field, name, cleaned[name])
            field.save(update_fields=changed)
            audit_record(
                actor=actor,
                action="custom_field.update",
                object_type="custom_field",
                object_id=field.pk,
                fields=changed,
            )
    return field


def custom_field_delete(*, actor: Actor, field: CustomField) -> None:
    """The field goes, and with it every value records hold for it (data no longer wanted is
    not kept), in the same transaction where few records hold one: no record shows an old
    value, nor does a field added later under the same key. The values of many records go in
    the background, in batches (one statement over a million rows would hold the database);
    until they are gone, the key cannot be taken again."""
    from custos.crm.tasks import remove_custom_values

    actor.require("organization.change")
    with transaction.atomic():
        audit_record(actor=actor, action="custom_field.delete", object_type="custom_field", object_id=field.pk)
        object_type, key, special = field.object_type, field.key, field.is_special
        field.delete()
        holding = _holding_special(object_type) if special else _holding_plain(object_type, key)
        if holding.values("pk")[: INLINE_REMOVAL + 1].count() <= INLINE_REMOVAL:
            remove_values(object_type, key, special=special)
        else:
            CustomValueRemoval.objects.get_or_create(object_type=object_type, key=key, special=special)
            transaction.on_commit(lambda: remove_custom_values.enqueue(str(actor.org_id), object_type, key, special))


def _holding_plain(object_type: str, key: str) -> models.QuerySet[Any]:
    return MODELS[object_type]._default_manager.filter(custom_fields__has_key=key)


def _holding_special(object_type: str) -> models.QuerySet[Any]:
    """The records holding any special-category custom value (which key, only decrypting tells)."""
    model = MODELS[object_type]
    return model._default_manager.alias(size=Length("custom_special")).filter(size__gt=0)


def _values_remain(object_type: str, key: str, *, special: bool) -> bool:
    """Whether a deleted field's values under this key are still being taken off records
    where a field of this category would keep its values (read from the list of removals
    under way, not by decrypting every record)."""
    return CustomValueRemoval.objects.filter(object_type=object_type, key=key, special=special).exists()


def finish_removals(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Removals whose task was lost (a worker stopped) run again; each is safe to repeat."""
    pending = CustomValueRemoval.objects.filter(created_at__lt=timezone.now() - older_than)
    return sum(remove_values(r.object_type, r.key, special=r.special) for r in pending.order_by("created_at"))


def _without_key(key: str) -> Func:
    """`custom_fields` without one key, computed by the database: one statement for every
    record, none read and written back (which could undo an edit made in between)."""
    if connection.vendor == "postgresql":
        return Func(
            F("custom_fields"),
            Cast(Value(key), models.TextField()),
            template="(%(expressions)s)",
            arg_joiner=" - ",
            output_field=models.JSONField(),
        )
    # A JSON path; keys hold only a-z, 0-9 and _ (FIELD_KEY_PATTERN), quoted all the same.
    return Func(F("custom_fields"), Value(f'$."{key}"'), function="json_remove", output_field=models.JSONField())


def remove_values(object_type: str, key: str, *, special: bool, batch_size: int = 500) -> int:
    """Strip a deleted field's values from every record; safe to run again. Not while a field
    of the same key keeps its values in the same place again (they are not the old field's)."""
    namesakes = CustomField.objects.filter(object_type=object_type, key=key)
    if (namesakes.filter(category="special") if special else namesakes.exclude(category="special")).exists():
        return 0
    model = MODELS[object_type]
    removed = 0
    done = CustomValueRemoval.objects.filter(object_type=object_type, key=key, special=special)
    if not special:
        while batch := list(_holding_plain(object_type, key).values_list("pk", flat=True)[:batch_size]):
            with transaction.atomic():
                removed += model._default_manager.filter(pk__in=batch).update(custom_fields=_without_key(key))
        done.delete()
        return removed
    for record in _holding_special(object_type).only("pk").iterator(chunk_size=batch_size):
        with transaction.atomic():
            # Read again under a lock: an edit saved since the batch was read is kept.
            locked = model._default_manager.select_for_update().only("pk", "custom_special").get(pk=record.pk)
            values = special_values(locked)
            if values.pop(key, None) is None:
                continue
            model._default_manager.filter(pk=record.pk).update(custom_special=dump_special(values))
        removed += 1
    done.delete()
    return removed


# Values -----------------------------------------------------------------------------------


def dump_special(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, ensure_ascii=False) if values else ""


def special_values(record: models.Model) -> dict[str, Any]:
    raw = getattr(record, "custom_special", "")
    return json.loads(raw) if raw else {}


def parse_number(value: Any) -> Decimal | None:
    """A finite number given as a JSON number or as text ("12", "3,5", "1.250,5"; not "1.500",
    which is written alike for fifteen hundred and one and a half: `read_number`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = read_number(value) if isinstance(value, str) else Decimal(str(value))
    except (ValueError, ArithmeticError):
        return None
    return number if number.is_finite() else None


def _clean_value(cleaner: Cleaner, field: CustomField, value: Any, stored: Any = None) -> Any:
    """The value to store; `stored`: the record's value now, whose options may stay chosen
    after the field stopped offering them (a change elsewhere must not drop them)."""
    name = f"custom_fields.{field.key}"
    match field.kind:
        case CustomField.Kind.TEXT:
            return cleaner.text(name, value, max_length=500)
        case CustomField.Kind.LONG_TEXT:
            return cleaner.text(name, value, max_length=10000, multiline=True)
        case CustomField.Kind.NUMBER:
            number = parse_number(value)
            if number is None and isinstance(value, str) and is_ambiguous(value):
                cleaner.fail(name, str(AMBIGUOUS))
            elif number is None:
                cleaner.fail(name, _("Enter a number."))
            elif abs(number) >= MAX_NUMBER:
                cleaner.fail(name, _("Enter a smaller number."))
            else:
                return int(number) if number == int(number) else float(number)
            return None
        case CustomField.Kind.MONEY:
            amount = cleaner.money(name, value)
            return None if amount is None else str(amount)
        case CustomField.Kind.DATE:
            day = cleaner.date(name, value)
            return None if day is None else day.isoformat()
        case CustomField.Kind.CHOICE:
            return value if value == stored else cleaner.choice(name, value, field.options)
        case CustomField.Kind.MULTI_CHOICE:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                cleaner.fail(name, _("Choose from: %(choices)s.") % {"choices": ", ".join(field.options)})
                return None
            kept = [option for option in stored if option in value] if isinstance(stored, list) else []
            chosen = [option for option in field.options if option in value]
            chosen += [option for option in kept if option not in chosen]
            if len(chosen) != len(set(value)):
                cleaner.fail(name, _("Choose from: %(choices)s.") % {"choices": ", ".join(field.options)})
            return chosen
        case CustomField.Kind.YES_NO:
            if not isinstance(value, bool):
                cleaner.fail(name, _("Use true or false."))
                return None
            return value
    return None


def clean_custom_values(
    cleaner: Cleaner,
    actor: Actor,
    object_type: str,
    value: Any,
    record: models.Model | None = None,
    fields: list[CustomField] | None = None,
) -> dict[str, Any]:
    """The record's custom values after this change, as the cleaned fields to write.

    The change is a merge: keys given are set, a key given null or empty is cleared, keys
    not given stay. Unknown keys are errors. Special-category values need their own right.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        cleaner.fail("custom_fields", _("Enter an object keyed by field key."))
        return {}
    by_key = {field.key: field for field in (fields_of(object_type) if fields is None else fields)}
    plain = dict(getattr(record, "custom_fields", None) or {})
    special = special_values(record) if record is not None and object_type in SPECIAL_ALLOWED else {}
    touched_special = False
    for key, item in value.items():
        field = by_key.get(key) if isinstance(key, str) else None
        if field is None:
            cleaner.fail(f"custom_fields.{str(key)[:50]}", _("There is no custom field with this key."))
            continue
        if field.is_special:
            actor.require("special_category.change")
            touched_special = True
        target = special if field.is_special else plain
        if item is None or item == "" or item == []:
            target.pop(key, None)
            continue
        cleaned = _clean_value(cleaner, field, item, target.get(key))
        if cleaned is not None:
            target[key] = cleaned
    result: dict[str, Any] = {"custom_fields": plain}
    if touched_special:
        result["custom_special"] = dump_special(special)
    return result


def carried_custom_values(record: models.Model, source_type: str, target_type: str) -> dict[str, Any]:
    """A record's custom values for a record of another type (a lead becoming a contact): those of
    the fields the target type has too, under the same key, kind and personal-data category."""
    targets = {(f.key, f.kind, f.category) for f in fields_of(target_type)}
    carried = [f for f in fields_of(source_type) if (f.key, f.kind, f.category) in targets]
    stored, special = getattr(record, "custom_fields", None) or {}, special_values(record)
    plain = {f.key: stored[f.key] for f in carried if not f.is_special and f.key in stored}
    secret = {f.key: special[f.key] for f in carried if f.is_special and f.key in special}
    return {"custom_fields": plain, "custom_special": dump_special(secret)}


def plain_values(record: models.Model, fields: list[CustomField]) -> dict[str, Any]:
    """The record's values of fields that are not special category, in the fields' order."""
    stored = getattr(record, "custom_fields", None) or {}
    return {f.key: stored[f.key] for f in fields if not f.is_special and f.key in stored}


def read_special(
    *, actor: Actor, record: models.Model, object_type: str, builtin: Iterable[str] = ()
) -> dict[str, Any]:
    """Reveal a record's special-category data (its built-in fields, and its custom values
    under "custom_fields") to an actor allowed to see it; the read goes to the audit log."""
    actor.require("special_category.view")
    stored = special_values(record)
    custom = {f.key: stored[f.key] for f in fields_of(object_type) if f.is_special and f.key in stored}
    values: dict[str, Any] = {name: getattr(record, name) for name in sorted(builtin)}
    present = [name for name, value in values.items() if value] + [f"custom_fields.{key}" for key in custom]
    if present:
        audit_record(
            actor=actor,
            action=f"{object_type}.read_special",
            object_type=object_type,
            object_id=record.pk,
            fields=present,
        )
    return values | {"custom_fields": custom}
