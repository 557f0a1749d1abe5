"""The OpenAPI document describes the lead, pipeline, deal and activity operations."""

import json

from django.test import Client


def _schema():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_paths_and_methods_of_leads_pipelines_deals_and_activities():
    paths = _schema()["paths"]

    assert {path: set(paths[path]) for path in paths if path.startswith(("/api/v1/lead", "/api/v1/pipeline"))} == {
        "/api/v1/leads": {"get", "post"},
        "/api/v1/leads/export": {"get"},
        "/api/v1/leads/{lead_id}": {"get", "patch", "delete"},
        "/api/v1/leads/{lead_id}/convert": {"post"},
        "/api/v1/lead-forms": {"get", "post"},
        "/api/v1/lead-forms/{lead_form_id}": {"get", "patch", "delete"},
        "/api/v1/pipelines": {"get", "post"},
        "/api/v1/pipelines/{pipeline_id}": {"get"},
        "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}": {"patch"},
    }
    assert {path: set(paths[path]) for path in paths if path.startswith(("/api/v1/deal", "/api/v1/activit"))} == {
        "/api/v1/deals": {"get", "post"},
        "/api/v1/deals/export": {"get"},
        "/api/v1/deals/{deal_id}": {"get", "patch", "delete"},
        "/api/v1/deals/{deal_id}/move": {"post"},
        "/api/v1/activities": {"get", "post"},
        "/api/v1/activities/{activity_id}": {"get", "patch", "delete"},
        "/api/v1/activities/{activity_id}/complete": {"post"},
        "/api/v1/activities/{activity_id}/reopen": {"post"},
    }


def test_the_list_filters():
    paths = _schema()["paths"]

    def parameters(path):
        return {p["name"] for p in paths[path]["get"]["parameters"]}

    filters = {"tag", "owner", "order"}
    assert parameters("/api/v1/leads") == {"cursor", "limit", "q", "status", "country", "consent", *filters}
    assert parameters("/api/v1/deals") == {"cursor", "limit", "q", "pipeline", "stage", "status", "company", *filters}
    assert parameters("/api/v1/activities") == {
        "cursor",
        "limit",
        "q",
        "kind",
        "open",
        "contact",
        "company",
        "lead",
        "deal",
    }
    assert parameters("/api/v1/pipelines") == {"cursor", "limit"}


def test_creating_answers_201_and_deleting_204():
    paths = _schema()["paths"]

    for resource in ("leads", "pipelines", "deals", "activities"):
        assert "201" in paths[f"/api/v1/{resource}"]["post"]["responses"], resource
    for path in ("/api/v1/leads/{lead_id}", "/api/v1/deals/{deal_id}", "/api/v1/activities/{activity_id}"):
        assert "204" in paths[path]["delete"]["responses"], path
