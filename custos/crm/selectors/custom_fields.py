"""Reading the organisation's custom field definitions."""

from __future__ import annotations

from typing import Any

from django.db import models

from custos.core.actor import Actor
from custos.core.errors import PermissionDenied
from custos.core.lookup import get_or_not_found
from custos.crm.models import CustomField


def readable_types(actor: Actor) -> list[str]:
    """The object types whose records (and so whose fields) the actor may see."""
    return [t for t in CustomField.ObjectType.values if actor.can(f"{t}.view") or actor.can("organization.change")]


def custom_field_list(actor: Actor, object_type: str = "") -> models.QuerySet[CustomField]:
    types = readable_types(actor)
    if object_type and object_type not in types:
        raise PermissionDenied(f"{object_type}.view")
    return CustomField.objects.filter(object_type__in=[object_type] if object_type else types)


def access_custom_field(actor: Actor, field_id: Any) -> CustomField:
    return get_or_not_found(custom_field_list(actor), pk=field_id)


# The fields of a record that hold its custom values, plain and special (encrypted).
VALUE_FIELDS = ("custom_fields", "custom_special")


def key_labels(model: type[models.Model], field: str) -> dict[str, str] | None:
    """Each custom value's label, for the privacy engine's reports (registered in CrmConfig)."""
    object_type = model._meta.model_name
    if field not in VALUE_FIELDS or object_type not in CustomField.ObjectType.values:
        return None
    return dict(CustomField.objects.filter(object_type=object_type).values_list("key", "label"))
