"""Error messages follow Accept-Language (a German catalog exists); the shape stays the same."""

import pytest
from django.test import Client
from django.utils import translation

from custos.testing import api_client

JSON = "application/json"


@pytest.fixture(autouse=True)
def _keep_the_thread_language():
    # A request leaves its language active in the thread; later tests expect English.
    language = translation.get_language()
    yield
    translation.activate(language)


def _detail_and_errors(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    return body["detail"], body.get("errors")


def test_validation_errors_are_in_the_requested_language(cast):
    client = api_client(cast, cast.alice)
    body = {"last_name": "Lind", "nickname": "G", "email": "greta@"}

    english = client.post("/api/v1/contacts", body, content_type=JSON, headers={"Accept-Language": "en"})
    german = client.post("/api/v1/contacts", body, content_type=JSON, headers={"Accept-Language": "de"})

    assert _detail_and_errors(english, 422) == (
        "The input is not valid.",
        [{"field": "nickname", "message": "Unknown field."}],
    )
    assert _detail_and_errors(german, 422) == (
        "Die Eingabe ist ungültig.",
        [{"field": "nickname", "message": "Unbekanntes Feld."}],
    )
    domain = client.post(
        "/api/v1/contacts", {"email": "greta@"}, content_type=JSON, headers={"Accept-Language": "de-DE,de;q=0.9"}
    )
    assert _detail_and_errors(domain, 422)[1] == [
        {"field": "email", "message": "Geben Sie eine gültige E-Mail-Adresse ein."}
    ]


def test_not_found_and_unauthorised_are_in_the_requested_language(cast):
    client = api_client(cast, cast.alice)

    assert _detail_and_errors(client.get("/api/v1/nothing", headers={"Accept-Language": "de"}), 404)[0] == (
        "Nicht gefunden."
    )
    anonymous = Client().get("/api/v1/contacts", headers={"Accept-Language": "de"})
    assert _detail_and_errors(anonymous, 401)[0] == (
        "Senden Sie ein gültiges API-Token: Authorization: Bearer <token>."
    )


def test_malformed_json_and_bad_parameters_are_in_the_requested_language(cast):
    client = api_client(cast, cast.alice)

    malformed = client.post("/api/v1/contacts", "{", content_type=JSON, headers={"Accept-Language": "de"})
    limit = client.get("/api/v1/contacts", {"limit": 0}, headers={"Accept-Language": "de"})

    assert _detail_and_errors(malformed, 400)[0] == "Der Anfragetext ist kein gültiges JSON."
    assert _detail_and_errors(limit, 422)[1] == [{"field": "limit", "message": "Wählen Sie ein Limit von 1 bis 200."}]


def test_a_badly_written_day_is_refused_in_the_requested_language(cast):
    """Found by the bug hunt: pydantic reads a day as a date or as a moment at midnight, and
    those failures (`date_from_datetime_parsing`, `…_inexact`) came in English whatever the language."""
    client = api_client(cast, cast.alice)
    german = {"Accept-Language": "de"}

    european = client.post(
        "/api/v1/contacts", {"last_name": "Lind", "contract_ends_on": "31.12.2024"}, content_type=JSON, headers=german
    )
    with_time = client.post(
        "/api/v1/contacts",
        {"last_name": "Lind", "contract_ends_on": "2024-12-31T10:00"},
        content_type=JSON,
        headers=german,
    )

    day = [{"field": "contract_ends_on", "message": "Geben Sie ein Datum an, z. B. 2026-11-22."}]
    assert _detail_and_errors(european, 422)[1] == day
    assert _detail_and_errors(with_time, 422)[1] == day


def test_a_too_large_body_is_refused_in_the_language_of_that_request(cast, settings):
    # Refused before the view, so the message must not take the language of whichever
    # request this thread served before.
    settings.CUSTOS_API_MAX_BODY_BYTES = 100
    client = api_client(cast, cast.alice)
    too_large = {"notes": "x" * 200}

    client.get("/api/v1/me", headers={"Accept-Language": "de"})
    english = client.post("/api/v1/contacts", too_large, content_type=JSON, headers={"Accept-Language": "en"})
    client.get("/api/v1/me", headers={"Accept-Language": "en"})
    german = client.post("/api/v1/contacts", too_large, content_type=JSON, headers={"Accept-Language": "de"})

    assert _detail_and_errors(english, 413)[0] == "The request body is too large."
    assert _detail_and_errors(german, 413)[0] == "Der Anfragetext ist zu groß."


def test_a_wrong_method_is_refused_in_the_requested_language(cast):
    client = api_client(cast, cast.alice)

    english = client.put("/api/v1/contacts", {}, content_type=JSON, headers={"Accept-Language": "en"})
    german = client.put("/api/v1/contacts", {}, content_type=JSON, headers={"Accept-Language": "de"})

    assert _detail_and_errors(english, 405)[0] == "This method is not allowed here."
    assert _detail_and_errors(german, 405)[0] == "Diese Methode ist hier nicht erlaubt."
