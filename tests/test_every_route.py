"""Every registered route, tried automatically: across tenants, anonymously, with too few rights.

New endpoints are covered without anyone writing a test for them. A route whose path
takes a parameter this file does not know how to fill fails `test_every_parameter_is_known`
until a factory for it is added to `custos.testing.org_a_objects`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from custos.accounts.models import ApiToken, Membership
from custos.core.tenancy import tenant_models, tenant_scope
from custos.testing import (
    MARKER,
    Cast,
    OrgAObjects,
    api_client,
    api_operations,
    fill_route,
    org_a_objects,
    route_parameters,
    web_client,
    web_routes,
)


def _snapshot(cast: Cast) -> dict[str, Any]:
    """What a denied request must leave untouched in org A: every row of every tenant table,
    and the memberships and tokens."""
    with tenant_scope(cast.org_a):
        state: dict[str, Any] = {
            model._meta.label: list(
                model.objects.order_by("pk").values_list(*[f.attname for f in model._meta.concrete_fields])
            )
            for model in tenant_models()
        }
    state["memberships"] = list(Membership.objects.filter(org=cast.org_a).order_by("pk").values_list("pk", "role_id"))
    state["tokens"] = list(ApiToken.objects.filter(org=cast.org_a).order_by("pk").values_list("pk", "revoked_at"))
    return state


def test_every_parameter_is_known():
    known = {
        "contact_id",
        "company_id",
        "subject_id",
        "team_id",
        "role_id",
        "membership_id",
        "token_id",
        "lead_id",
        "deal_id",
        "pipeline_id",
        "stage_id",
        "activity_id",
        "import_id",
        "scoring_rule_id",
        "assignment_rule_id",
        "user_id",
        "other_id",
        "custom_field_id",
        "service_id",
        "resource_id",
        "practitioner_id",
        "appointment_id",
        "recall_id",
        "affiliation_id",
        "purpose_id",
        "request_id",
        "retention_policy_id",
        "legal_hold_id",
        "breach_id",
        "processor_id",
        "lead_form_id",
    }
    routes = web_routes() + [path for _, path in api_operations()]
    unknown = {(route, name) for route in routes for name in route_parameters(route) if name not in known}
    assert not unknown, f"add an org-A object factory for these route parameters: {sorted(unknown)}"


def test_the_walk_finds_the_routes_it_should():
    assert "contacts/<str:contact_id>/" in web_routes()
    assert ("GET", "/api/v1/contacts/{contact_id}") in api_operations()


def _call(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    method = method.lower()
    if method in {"get", "delete"}:
        return getattr(client, method)(path)
    return getattr(client, method)(path, data=json.dumps(body or {}), content_type="application/json")


def _web_requests(client: Client, path: str) -> Iterator[tuple[str, Any]]:
    yield "get", client.get(path)
    yield "post", client.post(path, data={"name": "x", "delete": "1", "role": "x", "members": []})


def test_another_tenants_objects_are_not_found_on_any_route(cast):
    objects = org_a_objects(cast)
    before = _snapshot(cast)
    mallory_web = web_client(cast.mallory)
    mallory_api = api_client(cast, cast.mallory, "admin")
    checked = 0
    for route in web_routes():
        if not route_parameters(route):
            continue
        path = fill_route(route, objects.ids)
        statuses = {method: response.status_code for method, response in _web_requests(mallory_web, path)}
        assert set(statuses.values()) <= {404, 405}, (path, statuses)
        assert 404 in statuses.values(), (path, statuses)
        checked += 1
    for method, route in api_operations():
        if not route_parameters(route):
            continue
        path = fill_route(route, objects.ids)
        response = _call(mallory_api, method, path)
        assert response.status_code == 404, (method, path, response.status_code, response.content[:200])
        assert response["Content-Type"].startswith("application/problem+json")
        checked += 1
    assert checked >= 10
    assert _snapshot(cast) == before


def test_lists_and_pages_never_show_another_tenants_data(cast):
    objects = org_a_objects(cast)
    mallory_web = web_client(cast.mallory)
    mallory_api = api_client(cast, cast.mallory, "admin")
    pages = [("web", "/" + r) for r in web_routes() if not route_parameters(r)]
    pages += [("api", path) for method, path in api_operations() if method == "GET" and not route_parameters(path)]
    for face, path in pages:
        client = mallory_web if face == "web" else mallory_api
        response = client.get(path)
        content = b"".join(response.streaming_content) if response.streaming else response.content  # exports
        body = content.decode(errors="replace")
        assert response.status_code in {200, 302, 405}, (path, response.status_code)
        assert MARKER not in body, path
        assert not any(object_id in body for object_id in objects.all_ids()), path


def test_every_staff_page_needs_a_signed_in_user(cast):
    objects = org_a_objects(cast)
    anonymous = Client()
    for route in web_routes():
        path = fill_route(route, objects.ids)
        response = anonymous.get(path)
        assert response.status_code == 302, (path, response.status_code)
        assert response["Location"].startswith("/login/"), path


def test_every_api_operation_needs_a_token(cast):
    objects = org_a_objects(cast)
    before = _snapshot(cast)
    anonymous = Client()
    for method, route in api_operations():
        if route.endswith(("/openapi.json", "/docs")):
            continue
        response = _call(anonymous, method, fill_route(route, objects.ids))
        assert response.status_code == 401, (method, route)
        assert response["Content-Type"].startswith("application/problem+json")
    assert _snapshot(cast) == before


WRITE_BODIES: dict[str, Callable[[OrgAObjects], dict[str, Any]]] = {
    "/api/v1/contacts": lambda o: {"first_name": "New", "last_name": "Person"},
    "/api/v1/contacts/bulk": lambda o: {"items": [{"last_name": "Bulk"}]},
    "/api/v1/companies": lambda o: {"name": "New GmbH"},
    "/api/v1/companies/{company_id}": lambda o: {"name": "Changed"},
}


def test_a_read_token_cannot_change_anything(cast):
    """With a `read` token even an admin gets 403 on every write, and nothing changes."""
    objects = org_a_objects(cast)
    before = _snapshot(cast)
    reader = api_client(cast, cast.alice, "read")
    before = _snapshot(cast)  # the token's own creation is not part of what is checked
    writes = [(m, r) for m, r in api_operations() if m != "GET"]
    assert writes
    for method, route in writes:
        body = WRITE_BODIES.get(route, lambda o: {"first_name": "Changed"})(objects)
        response = _call(reader, method, fill_route(route, objects.ids), body)
        assert response.status_code == 403, (method, route, response.status_code, response.content[:200])
        assert response["Content-Type"].startswith("application/problem+json")
    assert _snapshot(cast) == before


@pytest.mark.parametrize("scope", ["crm:read", "privacy:read"])
def test_an_area_token_reaches_only_its_area(cast, scope):
    client = api_client(cast, cast.alice, scope)
    contacts = client.get("/api/v1/contacts").status_code
    subjects = client.get("/api/v1/privacy/subjects").status_code
    assert (contacts, subjects) == ((200, 403) if scope == "crm:read" else (403, 200))
