"""What the CRM endpoints share when they parse filters and render records."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.responses import NinjaJSONEncoder
from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from custos.core.actor import Actor
from custos.core.errors import NotFound, ValidationFailed


def _written(kind: str) -> Callable[[Any], Any]:
    """Pydantic reads a number as seconds since 1970 (123 → 1970-01-01): refused here."""

    def check(value: Any) -> Any:
        if isinstance(value, int | float):
            raise PydanticCustomError(kind, "a number is not a date")
        return value

    return check


# A moment or a day in a request body: written out (ISO 8601), never a number.
Moment = Annotated[datetime, BeforeValidator(_written("datetime_parsing"))]
Day = Annotated[date, BeforeValidator(_written("date_parsing"))]


def actor_of(request: HttpRequest) -> Actor:
    return request.auth  # type: ignore[attr-defined]  # TokenAuth puts the Actor there


def visible(actor: Actor, model_key: str, data: Mapping[str, Any], *, always: Iterable[str]) -> dict[str, Any]:
    """The record's fields, those hidden from the actor's role as null (as for contacts)."""
    shown = set(always)
    return {
        name: value if name in shown or actor.may_see_field(model_key, name) else None for name, value in data.items()
    }


def already_shaped(schema: type[Schema], data: Mapping[str, Any]) -> HttpResponse:
    """`data`, built to `schema` from typed columns, rendered as django-ninja would render it
    but without validating it again: for the hottest read, where validating cost a quarter of
    the request. The operation keeps `schema` as its documented response."""
    body = {name: data[name] for name in schema.model_fields}
    return HttpResponse(json.dumps(body, cls=NinjaJSONEncoder), content_type="application/json; charset=utf-8")


def reference(value: Any) -> str | None:
    """An id as the API spells it: an opaque string, or null."""
    return str(value) if value is not None else None


def money(amount: Decimal | None) -> str | None:
    """Money leaves as text with two decimals ("1250.50"), never as a float."""
    return f"{amount:.2f}" if amount is not None else None


def moment(value: datetime | None) -> datetime | None:
    """Datetimes leave in UTC, whatever offset they were given with."""
    return value.astimezone(UTC) if value is not None else None


def choice_filter(field: str, value: str, choices: Iterable[str]) -> str:
    """A list filter that must be one of the choices; an empty one filters nothing."""
    allowed = list(choices)
    if value and value not in allowed:
        raise ValidationFailed.single(field, _("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)})
    return value


def wants_special(include: str) -> bool:
    """`include=special` on a single record asks for its special-category data (an audited read)."""
    wanted = {part.strip() for part in include.split(",") if part.strip()}
    if wanted - {"special"}:
        raise ValidationFailed.single("include", _("Only “special” can be included."))
    return "special" in wanted


def record_filter[T](field: str, value: str | None, access: Callable[[str], T], message: str) -> T | None:
    """A list filter naming a record the actor may see; any other id is a field error."""
    if not value:
        return None
    try:
        return access(value)
    except NotFound:
        raise ValidationFailed.single(field, message) from None


class AddressIn(Schema):
    """Postal address fields, accepted on contacts, companies and leads."""

    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = Field(None, description="ISO 3166 code, e.g. DE")


class AddressOut(Schema):
    street: str | None
    postcode: str | None
    city: str | None
    country: str | None


def address_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in ("street", "postcode", "city", "country")}


FILTERS_DOC = (
    "Filters combine: `tag` (exact), `owner` (a member's id, or `me`), `country` (ISO code; contacts, "
    "companies, leads), `company` (an id; contacts, deals), and `custom_fields.<key>=value` for any "
    "custom field that is not special category (text fields match a part, others the exact value; "
    "yes/no takes true or false). `consent` (a purpose's key; contacts, leads) keeps the persons who "
    "may be processed for it now: a standing consent where its legal basis is consent, no objection "
    "for a marketing purpose, never a restricted or erased person. `order` is `created` (the "
    "default), `-created`, `name` or `-name`; a cursor belongs to the order it was made with."
)


def list_filters(request: HttpRequest, **named: str) -> dict[str, str]:
    """The list filters of a request: the named ones, and every `custom_fields.<key>`."""
    custom = {key: request.GET.get(key, "") for key in request.GET if key.startswith("custom_fields.")}
    return {**{k: v for k, v in named.items() if v}, **custom}
