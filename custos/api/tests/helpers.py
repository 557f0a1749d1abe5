"""Small helpers the API tests of leads, deals and activities share."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client

from custos.accounts.models import Role
from custos.accounts.services import role_update
from custos.audit.models import AuditEntry
from custos.core.models import Organization
from custos.core.tenancy import tenant_models, tenant_scope
from custos.testing import Cast

JSON = "application/json"
PROBLEM = "application/problem+json"


def iso(value: Any) -> Any:
    """A date or datetime as the API writes it (datetimes in UTC, to the millisecond)."""
    return DjangoJSONEncoder().default(value) if value is not None else None


def in_id_order(*records: dict[str, Any]) -> list[str]:
    """The records' ids in list order: lists run by id, and ids made within one millisecond
    are not ordered among themselves."""
    return sorted(record["id"] for record in records)


def post(client: Client, path: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(path, json.dumps(data or {}), content_type=JSON)


def patch(client: Client, path: str, data: dict[str, Any]) -> Any:
    return client.patch(path, json.dumps(data), content_type=JSON)


def created(client: Client, path: str, **data: Any) -> dict[str, Any]:
    """POST and expect 201: the new record's body."""
    response = post(client, path, data)
    assert response.status_code == 201, response.content
    return response.json()


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(JSON)
    return response.json()


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem+json body of an error answer with this status."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def field_errors(response: Any) -> list[dict[str, Any]]:
    """The per-field errors of a 422 answer."""
    return problem(response, 422)["errors"]


def entries(org: Organization, prefix: str = "") -> list[AuditEntry]:
    """The organisation's audit entries, oldest first, optionally only actions starting with prefix."""
    with tenant_scope(org):
        return list(AuditEntry.objects.filter(action__startswith=prefix).order_by("seq"))


def last_entry(org: Organization) -> AuditEntry:
    with tenant_scope(org):
        entry = AuditEntry.objects.order_by("-seq").first()
    assert entry is not None
    return entry


def snapshot(org: Organization) -> dict[str, Any]:
    """Every row of every tenant table, audit log included: what a refused request must not change."""
    with tenant_scope(org):
        return {
            model._meta.label: list(
                model.objects.order_by("pk").values_list(*[f.attname for f in model._meta.concrete_fields])
            )
            for model in tenant_models()
        }


def warmed(client: Client) -> Client:
    """The token's first use writes an audit entry of its own; have it written before measuring."""
    assert client.get("/api/v1/me").status_code == 200
    return client


def hide(cast: Cast, role_key: str, *fields: str) -> None:
    """Hide record fields from a role, as an owner would on the roles page."""
    with tenant_scope(cast.org_a):
        target = Role.objects.get(org=cast.org_a, key=role_key)
        role_update(
            actor=cast.actor(cast.olive),
            role=target,
            name=target.name,
            permissions=target.permissions,
            record_scope=target.record_scope,
            hidden_fields=[*target.hidden_fields, *fields],
        )


def grant(cast: Cast, role_key: str, *permissions: str) -> None:
    """Give a role more rights, as an owner would on the roles page."""
    with tenant_scope(cast.org_a):
        target = Role.objects.get(org=cast.org_a, key=role_key)
        role_update(
            actor=cast.actor(cast.olive),
            role=target,
            name=target.name,
            permissions=[*target.permissions, *permissions],
            record_scope=target.record_scope,
            hidden_fields=target.hidden_fields,
        )


def define_fields(cast: Cast, object_type: str, **kinds: str) -> None:
    """Custom fields of org A that tests write values to (not personal data)."""
    from custos.crm.services.custom_fields import custom_field_create

    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        for key, kind in kinds.items():
            custom_field_create(
                actor=actor,
                data={"object_type": object_type, "key": key, "label": key, "kind": kind, "category": "none"},
            )
