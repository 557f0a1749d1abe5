"""Every error under /api/v1 is application/problem+json (RFC 9457) and changes nothing."""

import json

from django.test import Client

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.testing import api_client

PROBLEM = "application/problem+json"


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert (body["type"], body["status"]) == ("about:blank", status)
    assert isinstance(body["title"], str)
    assert body["title"]
    return body


def _state(cast):
    with tenant_scope(cast.org_a):
        return (
            sorted(Contact.objects.values_list("pk", "first_name", "last_name", "email")),
            AuditEntry.objects.filter(action__startswith="contact.").count(),
        )


def _contact(cast):
    response = api_client(cast, cast.alice).post(
        "/api/v1/contacts", {"first_name": "Greta", "last_name": "Lind"}, content_type="application/json"
    )
    assert response.status_code == 201
    return response.json()["id"]


def test_an_unknown_route_is_a_404_problem(cast):
    client = api_client(cast, cast.alice)

    for path in ("/api/v1/nothing-here", "/api/v1/contacts/x/y", "/api/v2/contacts", "/api/"):
        assert problem(client.get(path), 404) == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "Not found.",
        }
    assert problem(Client().get("/api/v1/nothing-here"), 404)["detail"] == "Not found."


def test_an_unknown_or_malformed_id_is_a_404_problem(cast):
    client = api_client(cast, cast.alice)

    for path in ("/api/v1/contacts/not-a-uuid", "/api/v1/contacts/01a20440-0f9a-7745-86f4-e867a3cd510b"):
        assert problem(client.get(path), 404)["detail"] == "Not found."


def test_no_token_is_a_401_problem_with_www_authenticate(cast):
    response = Client().get("/api/v1/contacts")

    assert problem(response, 401) == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Send a valid API token: Authorization: Bearer <token>.",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="custos"'


def test_a_bad_token_is_a_401_problem_with_www_authenticate(cast):
    for header in ("Bearer cst_not-a-real-token", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "cst_no-scheme"):
        response = Client(headers={"Authorization": header}).get("/api/v1/me")
        assert problem(response, 401)["title"] == "Unauthorized", header
        assert response["WWW-Authenticate"] == 'Bearer realm="custos"', header


def test_a_read_token_cannot_write_and_nothing_changes(cast):
    contact_id = _contact(cast)
    read = api_client(cast, cast.alice, "read")
    before = _state(cast)

    responses = [
        read.post("/api/v1/contacts", {"last_name": "New"}, content_type="application/json"),
        read.post("/api/v1/contacts/bulk", {"items": [{"last_name": "New"}]}, content_type="application/json"),
        read.patch(f"/api/v1/contacts/{contact_id}", {"last_name": "Changed"}, content_type="application/json"),
        read.delete(f"/api/v1/contacts/{contact_id}"),
    ]

    for response in responses:
        assert problem(response, 403)["title"] == "Forbidden"
    assert _state(cast) == before
    assert read.get(f"/api/v1/contacts/{contact_id}").json()["last_name"] == "Lind"


def test_a_role_without_the_permission_gets_403_and_nothing_changes(cast):
    contact_id = _contact(cast)
    before = _state(cast)

    bob = api_client(cast, cast.bob, "write")  # read-only role, even with a write token
    assert problem(bob.post("/api/v1/contacts", {"last_name": "x"}, content_type="application/json"), 403)
    assert problem(bob.delete(f"/api/v1/contacts/{contact_id}"), 403)
    sam = api_client(cast, cast.sam, "write")  # sales may not delete
    assert problem(sam.delete(f"/api/v1/contacts/{contact_id}"), 403)

    assert _state(cast) == before


def test_malformed_json_is_a_400_problem(cast):
    client = api_client(cast, cast.alice)
    before = _state(cast)

    for body in ('{"first_name": "Greta"', "{'first_name': 'Greta'}", "first_name=Greta", "\xff\xfe"):
        response = client.post("/api/v1/contacts", body, content_type="application/json")
        assert problem(response, 400)["detail"] == "The request body is not valid JSON.", body
    assert _state(cast) == before


def test_json_that_is_not_an_object_is_a_422_problem(cast):
    client = api_client(cast, cast.alice)
    before = _state(cast)

    for body in ("[1, 2]", '"Greta"', "42", "null"):
        response = client.post("/api/v1/contacts", body, content_type="application/json")
        assert problem(response, 422)["errors"] == [{"field": "body", "message": "Enter an object."}], body
    assert _state(cast) == before


def test_an_unknown_field_is_a_422_problem_naming_it(cast):
    client = api_client(cast, cast.alice)
    before = _state(cast)

    response = client.post("/api/v1/contacts", {"last_name": "Lind", "nickname": "G"}, content_type="application/json")

    assert problem(response, 422) == {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "The input is not valid.",
        "errors": [{"field": "nickname", "message": "Unknown field."}],
    }
    assert _state(cast) == before


def test_a_wrong_type_is_a_422_problem_naming_the_field(cast):
    client = api_client(cast, cast.alice)
    contact_id = _contact(cast)
    before = _state(cast)

    created = client.post("/api/v1/contacts", {"first_name": 5}, content_type="application/json")
    patched = client.patch(f"/api/v1/contacts/{contact_id}", {"tags": "vip"}, content_type="application/json")

    assert problem(created, 422)["errors"] == [{"field": "first_name", "message": "Enter text."}]
    assert problem(patched, 422)["errors"] == [{"field": "tags", "message": "Enter a list."}]
    assert _state(cast) == before


def test_an_invalid_value_is_a_422_problem_naming_the_field(cast):
    client = api_client(cast, cast.alice)
    before = _state(cast)

    response = client.post(
        "/api/v1/contacts",
        {"last_name": "Lind", "email": "greta@", "phone": "call me"},
        content_type="application/json",
    )

    assert problem(response, 422)["errors"] == [
        {"field": "email", "message": "Enter a valid email address."},
        {"field": "phone", "message": "Enter a valid phone number, e.g. +49 30 1234567."},
    ]
    assert _state(cast) == before


def test_a_body_over_the_limit_is_a_413_problem(cast, settings):
    settings.CUSTOS_API_MAX_BODY_BYTES = 1000
    client = api_client(cast, cast.alice)
    before = _state(cast)
    # An English request first: the early 413 speaks the thread's last language
    # (see test_error_language.test_a_too_large_body_is_refused_in_the_language_of_that_request).
    client.get("/api/v1/me")

    response = client.post("/api/v1/contacts", {"last_name": "L", "notes": "x" * 1000}, content_type="application/json")

    assert problem(response, 413) == {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "The request body is too large.",
    }
    assert _state(cast) == before
    small = client.post("/api/v1/contacts", {"last_name": "L", "notes": "x" * 900}, content_type="application/json")
    assert small.status_code == 201


def test_a_wrong_method_is_a_405_problem_with_allow(cast):
    client = api_client(cast, cast.alice)
    contact_id = _contact(cast)

    listing = client.put("/api/v1/contacts", {}, content_type="application/json")
    item = client.post(f"/api/v1/contacts/{contact_id}", {}, content_type="application/json")

    assert problem(listing, 405)["detail"] == "This method is not allowed here."
    assert set(listing["Allow"].split(", ")) == {"GET", "POST"}
    assert problem(item, 405)["title"] == "Method Not Allowed"
    assert set(item["Allow"].split(", ")) == {"GET", "PATCH", "DELETE"}


def test_an_invalid_limit_is_a_422_problem_naming_it(cast):
    client = api_client(cast, cast.alice)

    for limit, message in (
        ("0", "Choose a limit from 1 to 200."),
        ("201", "Choose a limit from 1 to 200."),
        ("-5", "Choose a limit from 1 to 200."),
        ("ten", "Enter a whole number."),
    ):
        response = client.get("/api/v1/contacts", {"limit": limit})
        assert problem(response, 422)["errors"] == [{"field": "limit", "message": message}], limit


def test_a_tampered_cursor_is_a_422_problem_naming_it(cast):
    client = api_client(cast, cast.alice)
    for n in range(3):
        client.post("/api/v1/contacts", {"last_name": f"L{n}"}, content_type="application/json")
    cursor = client.get("/api/v1/contacts", {"limit": 1}).json()["next"]
    payload = cursor.rpartition(":")[0]

    for bad in (cursor[:-1] + ("A" if cursor[-1] != "A" else "B"), f"x{cursor}", "garbage", f"{payload}:"):
        response = client.get("/api/v1/contacts", {"cursor": bad})
        assert problem(response, 422)["errors"] == [
            {"field": "cursor", "message": "This cursor is not valid; start again from the first page."}
        ], bad


def test_a_body_that_is_not_json_is_a_415_problem(cast):
    client = api_client(cast, cast.alice)
    before = _state(cast)
    response = client.post("/api/v1/contacts", {"first_name": "Form"})  # form-encoded, as a browser would
    body = problem(response, 415)
    assert "application/json" in body["detail"]
    assert _state(cast) == before


def test_bytes_that_are_not_utf8_are_a_400_problem(cast):
    client = api_client(cast, cast.alice)
    before = _state(cast)
    response = client.post("/api/v1/contacts", b'{"first_name": "\xff\xfe"}', content_type="application/json")
    problem(response, 400)
    assert _state(cast) == before


def test_a_phone_number_that_cannot_exist_is_refused_naming_the_field(cast):
    client = api_client(cast, cast.alice)
    for phone in ("12", "030", "+49 1", "call me"):
        response = client.post(
            "/api/v1/contacts", json.dumps({"last_name": "X", "phone": phone}), content_type="application/json"
        )
        body = problem(response, 422)
        assert [error["field"] for error in body["errors"]] == ["phone"], phone


def test_head_answers_as_get_without_a_body(cast):
    client = api_client(cast, cast.alice)
    got = client.get("/api/v1/contacts")

    head = client.head("/api/v1/contacts")

    assert head.status_code == 200 and head.content == b""
    assert head["Content-Type"] == got["Content-Type"]
    assert Client().head("/api/v1/contacts").status_code == 401
