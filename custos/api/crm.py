"""/contacts and /companies: thin — parse, authorise, call, render."""

from __future__ import annotations

import functools
import uuid
from datetime import date, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from custos.accounts.access import Rider
from custos.accounts.models import TeamMember
from custos.api.auth import TokenAuth, ridden
from custos.api.rendering import (
    FILTERS_DOC,
    AddressIn,
    AddressOut,
    Day,
    address_of,
    already_shaped,
    list_filters,
    wants_special,
)
from custos.core.actor import Actor, RecordScope
from custos.core.db.prepared import execute_prepared
from custos.core.errors import NotFound, ValidationFailed
from custos.core.tenancy import require_org_id
from custos.crm.models import Affiliation, Company, Contact, ContactPoint
from custos.crm.selectors.filters import list_order
from custos.crm.selectors.people import (
    access_affiliation,
    access_company,
    access_contact,
    affiliations_of,
    company_list,
    contact_list,
)
from custos.crm.selectors.records import searched_page
from custos.crm.services import people as services

router = Router(tags=["crm"])

BULK_LIMIT = 1000


class OtherEmail(Schema):
    email: str
    label: str = Field("other", description="work, private, mobile or other")


class OtherPhone(Schema):
    phone: str = Field(description="E.164, e.g. +4930123456; national formats are read with the organisation's country")
    label: str = Field("other", description="work, private, mobile or other")


POINTS_DOC = (
    "Further email addresses or phone numbers beyond the main one (at most 10), each an object with its "
    "label; giving the list replaces the stored one."
)


class ContactIn(AddressIn):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    # Any: each item is checked by the domain, so that a bad one is named by its position.
    other_emails: list[Any] | None = Field(None, description=POINTS_DOC)
    other_phones: list[Any] | None = Field(None, description=POINTS_DOC)
    language: str | None = Field(None, description="en, de, pl or ar; empty: the organisation's language")
    contract_ends_on: Day | None = Field(
        None, description="When the contract with the person ends: what a “contract end” retention policy counts from"
    )
    company: str | None = None
    owner: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    notes: str | None = None
    health_notes: str | None = None


class ContactOut(AddressOut):
    id: str
    subject: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    other_emails: list[OtherEmail] | None
    other_phones: list[OtherPhone] | None
    language: str | None
    contract_ends_on: date | None
    company: str | None
    owner: str | None
    tags: list[str] | None
    custom_fields: dict[str, Any] | None = Field(
        description="Values of the organisation's custom fields by key; those of special-category fields "
        "only with `include=special`."
    )
    notes: str | None
    health_notes: str | None = Field(
        None,
        description=(
            "Special-category data: null unless asked for with `include=special` on the "
            "single-contact endpoint, by a role allowed to see it; each such read is audited."
        ),
    )
    created_at: datetime
    updated_at: datetime


class ContactPage(Schema):
    items: list[ContactOut]
    next: str | None


class BulkIn(Schema):
    model_config = ConfigDict(extra="forbid")

    items: list[Any]


class BulkOut(Schema):
    items: list[ContactOut]


class CompanyIn(AddressIn):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    vat_id: str | None = None
    website: str | None = None
    email: str | None = None
    phone: str | None = None
    owner: str | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class CompanyOut(AddressOut):
    id: str
    name: str
    vat_id: str | None
    website: str | None
    email: str | None
    phone: str | None
    owner: str | None
    tags: list[str] | None
    custom_fields: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class CompanyPage(Schema):
    items: list[CompanyOut]
    next: str | None


def _visible(actor: Actor, model_key: str, name: str, value: Any) -> Any:
    return value if actor.may_see_field(model_key, name) else None


def contact_out(actor: Actor, contact: Contact, *, special: dict[str, Any] | None = None) -> dict[str, Any]:
    data = {
        "id": str(contact.pk),
        "subject": str(contact.subject_id),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        **services.stored_points(contact),
        "language": contact.language,
        "contract_ends_on": contact.contract_ends_on,
        "company": str(contact.company_id) if contact.company_id else None,
        "owner": str(contact.owner_id) if contact.owner_id else None,
        "tags": contact.tags,
        "custom_fields": {**contact.custom_fields, **(special or {}).get("custom_fields", {})},
        "notes": contact.notes,
        "health_notes": (special or {}).get("health_notes"),
        **address_of(contact),
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }
    return _contact_shown(actor, data)


def _contact_shown(actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    """The contact's fields, those hidden from the actor's role as null."""
    return {
        name: _visible(actor, "contact", services.POINT_FIELDS.get(name, name), value)
        if name not in {"id", "subject", "created_at", "updated_at"}
        else value
        for name, value in data.items()
    }


# `GET /contacts/{id}`, the API's most frequent call, in one statement ----------------------
#
# Through the ORM, composing the contact's query and then its points' query cost more CPU
# than the database spent answering them (0.74 + 0.56 ms against 0.2 + 0.14 ms). Here the
# contact and its further emails and phones come from one statement, written once per
# record scope, prepared on PostgreSQL, each value converted by its field's own
# converters. It reads what `access_contact` and `contact_out` give: the same permission,
# tenant (and row-level security), record scope and hidden fields; the special-category
# fields are left out, as there (`include=special` takes the audited way).
# `test_contact_read.py` holds the two side by side.

CONTACT_COLUMNS = (
    "id",
    "subject",
    "first_name",
    "last_name",
    "email",
    "phone",
    "language",
    "contract_ends_on",
    "company",
    "owner",
    "tags",
    "custom_fields",
    "notes",
    "street",
    "postcode",
    "city",
    "country",
    "created_at",
    "updated_at",
)
POINT_COLUMNS = ("email", "phone", "label")
# Record scopes narrowed to a team are one statement per team size: prepared up to this size.
PREPARED_TEAM_SIZE = 16


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


@functools.cache
def _contact_read_sql(scope: RecordScope, mates: int) -> str:
    columns = [f"c.{_field(Contact, name).column}" for name in CONTACT_COLUMNS]
    columns += [f"p.{_field(ContactPoint, name).column}" for name in POINT_COLUMNS]
    owner = f"c.{_field(Contact, 'owner').column}"
    narrowed = {
        RecordScope.ALL: "",
        RecordScope.TEAM: f"AND {owner} IN ({', '.join(['%s'] * mates)})",
        RecordScope.OWN: f"AND {owner} = %s",
    }[scope]
    # Table and column names come from the models; every value is a parameter.
    return f"""
        SELECT {", ".join(columns)}
        FROM {Contact._meta.db_table} c
        LEFT JOIN {ContactPoint._meta.db_table} p ON p.contact_id = c.id AND p.org_id = c.org_id
        WHERE c.id = %s AND c.org_id = %s {narrowed}
        ORDER BY p.created_at, p.id
    """  # noqa: S608


@functools.cache
def _contact_converters(vendor: str) -> list[list[Any]]:
    """Each contact column's converters, as the ORM applies them (backend's, then field's).
    Their results depend on the settings only, so the first connection's serve every thread."""
    converters = []
    for name in CONTACT_COLUMNS:
        column = _field(Contact, name).get_col("c")
        converters.append([*connection.ops.get_db_converters(column), *column.get_db_converters(connection)])
    return converters


def contact_read(actor: Actor, contact_id: str) -> dict[str, Any]:
    """The contact as `contact_out` renders it, without special-category data; NotFound
    for a missing, foreign, out-of-scope or malformed id alike."""
    actor.require("contact.view")
    try:
        pk = uuid.UUID(str(contact_id))
    except ValueError:
        raise NotFound() from None
    database = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: looked up once
    owner_field = _field(Contact, "owner")
    params = [
        _field(Contact, "id").get_db_prep_value(pk, database),
        _field(Contact, "org").get_db_prep_value(require_org_id(), database),
    ]
    mates = 0
    if actor.record_scope == RecordScope.TEAM:
        mates = len(actor.team_member_ids)
        if not mates:  # nobody's records in scope (and `IN ()` is no SQL)
            raise NotFound()
        params += [owner_field.get_db_prep_value(mate, database) for mate in sorted(actor.team_member_ids)]
    elif actor.record_scope == RecordScope.OWN:
        params.append(owner_field.get_db_prep_value(actor.user_id, database))
    sql = _contact_read_sql(RecordScope(actor.record_scope), mates)
    with database.cursor() as cursor:
        if mates <= PREPARED_TEAM_SIZE:
            execute_prepared(cursor, f"custos_contact_read_{actor.record_scope}_{mates}", sql, params)
        else:
            cursor.execute(sql, params)
        rows = cursor.fetchall()
    return contact_from_rows(actor, rows)


def contact_rider(request: HttpRequest) -> Rider | None:
    """`GET /contacts/{id}` reads its contact in the token's statement, with the record scope
    the token's role gives, written in SQL as `contact_read` writes it in Python. Not for a
    malformed id, nor with `include=special`: those go the usual way."""
    if request.resolver_match is None or wants_special(request.GET.get("include", "")):
        return None
    try:
        pk = uuid.UUID(str(request.resolver_match.kwargs.get("contact_id")))
    except ValueError:
        return None
    columns, joins = _contact_rider_sql()
    params = [_field(Contact, "id").get_db_prep_value(pk, connections[DEFAULT_DB_ALIAS]), "all", "team"]
    return Rider(name="contact", columns=columns, joins=joins, params=params)


@functools.cache
def _contact_rider_sql() -> tuple[str, str]:
    columns = [f"c.{_field(Contact, name).column}" for name in CONTACT_COLUMNS]
    columns += [f"p.{_field(ContactPoint, name).column}" for name in POINT_COLUMNS]
    owner = f"c.{_field(Contact, 'owner').column}"
    team_member = TeamMember._meta.db_table
    # Table and column names come from the models; every value is a parameter.
    joins = f"""
        LEFT JOIN {Contact._meta.db_table} c ON c.id = %s AND c.org_id = tok.org_id AND (
            tok.record_scope = %s OR {owner} = tok.user_id OR (tok.record_scope = %s AND {owner} IN (
                SELECT mate.user_id FROM {team_member} mine JOIN {team_member} mate ON mate.team_id = mine.team_id
                WHERE mine.user_id = tok.user_id AND mine.org_id = tok.org_id AND mate.org_id = tok.org_id)))
        LEFT JOIN {ContactPoint._meta.db_table} p ON p.contact_id = c.id AND p.org_id = c.org_id
        ORDER BY p.created_at, p.id
    """  # noqa: S608
    return ", ".join(columns), joins


def contact_from_rows(actor: Actor, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The contact read by `contact_read` or by its rider: its columns, then a further email
    or phone per row; NotFound when no contact came (a row of nulls from the rider)."""
    actor.require("contact.view")
    if not rows or rows[0][0] is None:
        raise NotFound()
    database = connections[DEFAULT_DB_ALIAS]
    values = list(rows[0][: len(CONTACT_COLUMNS)])
    for index, converters in enumerate(_contact_converters(database.vendor)):
        for convert in converters:
            values[index] = convert(values[index], None, database)
    contact = dict(zip(CONTACT_COLUMNS, values, strict=True))
    points: dict[str, list[dict[str, str]]] = {"other_emails": [], "other_phones": []}
    for email, phone, label in (row[len(CONTACT_COLUMNS) :] for row in rows):
        if email:
            points["other_emails"].append({"email": email, "label": label})
        elif phone:
            points["other_phones"].append({"phone": phone, "label": label})
    data = {
        "id": str(contact["id"]),
        "subject": str(contact["subject"]),
        "first_name": contact["first_name"],
        "last_name": contact["last_name"],
        "email": contact["email"],
        "phone": contact["phone"],
        **points,
        "language": contact["language"],
        "contract_ends_on": contact["contract_ends_on"],
        "company": str(contact["company"]) if contact["company"] else None,
        "owner": str(contact["owner"]) if contact["owner"] else None,
        "tags": contact["tags"],
        "custom_fields": {**contact["custom_fields"]},
        "notes": contact["notes"],
        "health_notes": None,
        **{name: contact[name] for name in ("street", "postcode", "city", "country")},
        "created_at": contact["created_at"],
        "updated_at": contact["updated_at"],
    }
    return _contact_shown(actor, data)


def company_out(actor: Actor, company: Company) -> dict[str, Any]:
    data = {
        "id": str(company.pk),
        "name": company.name,
        "vat_id": company.vat_id,
        "website": company.website,
        "email": company.email,
        "phone": company.phone,
        "owner": str(company.owner_id) if company.owner_id else None,
        "tags": company.tags,
        "custom_fields": company.custom_fields,
        **address_of(company),
        "created_at": company.created_at,
        "updated_at": company.updated_at,
    }
    return {
        name: _visible(actor, "company", name, value)
        if name not in {"id", "name", "created_at", "updated_at"}
        else value
        for name, value in data.items()
    }


@router.get("/contacts", response=ContactPage, summary="List contacts", description=FILTERS_DOC)
def list_contacts(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    q: str = "",
    tag: str = "",
    owner: str = "",
    company: str = "",
    country: str = "",
    consent: str = "",
    order: str = "",
) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    filters = list_filters(request, tag=tag, owner=owner, company=company, country=country, consent=consent)
    contacts = contact_list(actor, filters=filters)
    order_by = list_order("contact", order)
    rows, next_cursor, _ = searched_page(
        actor, "contact", contacts, q, cursor=cursor, order=order_by, limit=limit, counted=False
    )
    prefetch_related_objects(rows, "points")
    return {"items": [contact_out(actor, c) for c in rows], "next": next_cursor}


@router.post("/contacts", response={201: ContactOut}, summary="Create a contact")
def create_contact(request: HttpRequest, payload: ContactIn) -> Status[dict[str, Any]]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    contact = services.contact_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, contact_out(actor, contact))


@router.post("/contacts/bulk", response={201: BulkOut}, summary="Create up to 1,000 contacts, all or none")
def bulk_create_contacts(request: HttpRequest, payload: BulkIn) -> Status[dict[str, Any]]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    if not payload.items:
        raise ValidationFailed.single("items", _("Send at least one item."))
    if len(payload.items) > BULK_LIMIT:
        raise ValidationFailed.single("items", _("Send at most %(max)d items per request.") % {"max": BULK_LIMIT})
    contacts = services.contact_bulk_create(actor=actor, items=payload.items)
    prefetch_related_objects(contacts, "points")
    return Status(201, {"items": [contact_out(actor, c) for c in contacts]})


@router.get("/contacts/{contact_id}", response=ContactOut, summary="Get a contact", auth=TokenAuth(rider=contact_rider))
def get_contact(request: HttpRequest, contact_id: str, include: str = "") -> HttpResponse | dict[str, Any]:
    """`include=special` adds the special-category fields; the read is written to the audit log."""
    actor: Actor = request.auth  # type: ignore[attr-defined]
    if not wants_special(include):
        rows = ridden(request)
        shown = contact_from_rows(actor, rows) if rows is not None else contact_read(actor, contact_id)
        return already_shaped(ContactOut, shown)
    contact = access_contact(actor, contact_id, with_company=False)
    special = services.contact_read_special(actor=actor, contact=contact)
    return contact_out(actor, contact, special=special)


@router.patch("/contacts/{contact_id}", response=ContactOut, summary="Change some fields of a contact")
def update_contact(request: HttpRequest, contact_id: str, payload: ContactIn) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    contact = access_contact(actor, contact_id, write=True)
    contact = services.contact_update(actor=actor, contact=contact, data=payload.model_dump(exclude_unset=True))
    return contact_out(actor, contact)


@router.delete("/contacts/{contact_id}", response={204: None}, summary="Delete a contact")
def delete_contact(request: HttpRequest, contact_id: str) -> HttpResponse:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    actor.require("contact.delete")
    services.contact_delete(actor=actor, contact=access_contact(actor, contact_id))
    return HttpResponse(status=204)


class AffiliationIn(Schema):
    company: str | None = None
    role: str | None = None


class AffiliationOut(Schema):
    id: str
    company: str
    company_name: str
    role: str
    created_at: datetime


def affiliation_out(affiliation: Affiliation) -> dict[str, Any]:
    return {
        "id": str(affiliation.pk),
        "company": str(affiliation.company_id),
        "company_name": affiliation.company.name,
        "role": affiliation.role,
        "created_at": affiliation.created_at,
    }


@router.get(
    "/contacts/{contact_id}/affiliations", response=list[AffiliationOut], summary="List a contact's further companies"
)
def list_affiliations(request: HttpRequest, contact_id: str) -> list[dict[str, Any]]:
    """Companies the contact has a role at besides their main `company`, by name."""
    actor: Actor = request.auth  # type: ignore[attr-defined]
    contact = access_contact(actor, contact_id)
    return [affiliation_out(a) for a in affiliations_of(actor, contact)]


@router.post(
    "/contacts/{contact_id}/affiliations", response={201: AffiliationOut}, summary="Link a contact to one more company"
)
def add_affiliation(request: HttpRequest, contact_id: str, payload: AffiliationIn) -> Status[dict[str, Any]]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    contact = access_contact(actor, contact_id, write=True)
    affiliation = services.affiliation_add(actor=actor, contact=contact, data=payload.model_dump(exclude_unset=True))
    return Status(201, affiliation_out(affiliation))


@router.patch(
    "/contacts/{contact_id}/affiliations/{affiliation_id}",
    response=AffiliationOut,
    summary="Change a contact's role at a company",
)
def update_affiliation(
    request: HttpRequest, contact_id: str, affiliation_id: str, payload: AffiliationIn
) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    affiliation = access_affiliation(actor, access_contact(actor, contact_id, write=True), affiliation_id)
    data = payload.model_dump(exclude_unset=True)
    return affiliation_out(services.affiliation_update(actor=actor, affiliation=affiliation, data=data))


@router.delete(
    "/contacts/{contact_id}/affiliations/{affiliation_id}",
    response={204: None},
    summary="Unlink a contact from a company",
)
def remove_affiliation(request: HttpRequest, contact_id: str, affiliation_id: str) -> HttpResponse:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    affiliation = access_affiliation(actor, access_contact(actor, contact_id, write=True), affiliation_id)
    services.affiliation_remove(actor=actor, affiliation=affiliation)
    return HttpResponse(status=204)


@router.get("/companies", response=CompanyPage, summary="List companies")
def list_companies(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int | None = None,
    q: str = "",
    tag: str = "",
    owner: str = "",
    country: str = "",
    order: str = "",
) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    companies = company_list(actor, filters=list_filters(request, tag=tag, owner=owner, country=country))
    order_by = list_order("company", order)
    rows, next_cursor, _ = searched_page(
        actor, "company", companies, q, cursor=cursor, order=order_by, limit=limit, counted=False
    )
    return {"items": [company_out(actor, c) for c in rows], "next": next_cursor}


@router.post("/companies", response={201: CompanyOut}, summary="Create a company")
def create_company(request: HttpRequest, payload: CompanyIn) -> Status[dict[str, Any]]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    company = services.company_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, company_out(actor, company))


@router.get("/companies/{company_id}", response=CompanyOut, summary="Get a company")
def get_company(request: HttpRequest, company_id: str) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    return company_out(actor, access_company(actor, company_id))


@router.patch("/companies/{company_id}", response=CompanyOut, summary="Change some fields of a company")
def update_company(request: HttpRequest, company_id: str, payload: CompanyIn) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    company = access_company(actor, company_id, write=True)
    return company_out(
        actor, services.company_update(actor=actor, company=company, data=payload.model_dump(exclude_unset=True))
    )


@router.delete("/companies/{company_id}", response={204: None}, summary="Delete a company")
def delete_company(request: HttpRequest, company_id: str) -> HttpResponse:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    actor.require("company.delete")
    services.company_delete(actor=actor, company=access_company(actor, company_id))
    return HttpResponse(status=204)
