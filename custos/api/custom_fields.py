"""/custom-fields: the organisation's own fields on companies, contacts, leads and deals."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictInt

from custos.api.rendering import actor_of, choice_filter
from custos.crm.models import CustomField
from custos.crm.selectors.custom_fields import access_custom_field, custom_field_list
from custos.crm.services import custom_fields as services

router = Router(tags=["custom fields"])

CATEGORIES = ", ".join(key for key, _label in CustomField.CATEGORIES)


class CustomFieldIn(Schema):
    model_config = ConfigDict(extra="forbid")

    object_type: str | None = Field(None, description="company, contact, lead or deal. Fixed once created.")
    key: str | None = Field(
        None, description="How values are named in `custom_fields`: a–z, 0–9 and _, starting with a letter. Fixed."
    )
    label: str | None = None
    kind: str | None = Field(
        None, description="text, long_text, number, money, date, choice, multi_choice or yes_no. Fixed."
    )
    options: list[str] | None = Field(None, description="The choices of a choice or multi_choice field.")
    category: str | None = Field(
        None,
        description=f"The personal data it holds: {CATEGORIES}. `special` (Art. 9) values are stored encrypted "
        "and read only with `include=special`. Fixed.",
    )
    position: StrictInt | None = Field(
        None, description="Its place among the type's fields, from 0; a new one comes last."
    )


class CustomFieldOut(Schema):
    id: str
    object_type: str
    key: str
    label: str
    kind: str
    options: list[str]
    category: str
    position: int


class CustomFieldList(Schema):
    items: list[CustomFieldOut]


def field_out(field: CustomField) -> dict[str, Any]:
    return {
        "id": str(field.pk),
        "object_type": field.object_type,
        "key": field.key,
        "label": field.label,
        "kind": field.kind,
        "options": field.options,
        "category": field.category,
        "position": field.position,
    }


@router.get("/custom-fields", response=CustomFieldList, summary="List custom fields")
def list_custom_fields(request: HttpRequest, object_type: str = "") -> dict[str, Any]:
    """Every field of the object types the caller may see, in their order (at most 100 per type)."""
    actor = actor_of(request)
    object_type = choice_filter("object_type", object_type, CustomField.ObjectType.values)
    return {"items": [field_out(field) for field in custom_field_list(actor, object_type)]}


@router.post("/custom-fields", response={201: CustomFieldOut}, summary="Add a custom field")
def create_custom_field(request: HttpRequest, payload: CustomFieldIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    field = services.custom_field_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, field_out(field))


@router.get("/custom-fields/{custom_field_id}", response=CustomFieldOut, summary="Get a custom field")
def get_custom_field(request: HttpRequest, custom_field_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    return field_out(access_custom_field(actor, custom_field_id))


@router.patch("/custom-fields/{custom_field_id}", response=CustomFieldOut, summary="Rename or reorder a field")
def update_custom_field(request: HttpRequest, custom_field_id: str, payload: CustomFieldIn) -> dict[str, Any]:
    """The label, the options and the position may change; key, kind and category may not."""
    actor = actor_of(request)
    field = access_custom_field(actor, custom_field_id)
    data = payload.model_dump(exclude_unset=True)
    return field_out(services.custom_field_update(actor=actor, field=field, data=data))


@router.delete("/custom-fields/{custom_field_id}", response={204: None}, summary="Delete a field and its values")
def delete_custom_field(request: HttpRequest, custom_field_id: str) -> HttpResponse:
    """Every record's value of the field is removed too, at once; special-category values of
    many records in the background, and until they are gone the key cannot be added again for
    special-category data."""
    actor = actor_of(request)
    actor.require("organization.change")
    services.custom_field_delete(actor=actor, field=access_custom_field(actor, custom_field_id))
    return HttpResponse(status=204)
