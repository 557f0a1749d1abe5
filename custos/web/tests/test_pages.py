"""Every staff page renders for an admin, in each of the four languages, laid out right."""

import re

import pytest
from django.conf import settings
from django.test import Client

from custos.testing import enable_two_factor, fill_route, org_a_objects, route_parameters, web_client, web_routes

HTML_OPENING = re.compile(r'<html lang="(?P<lang>[a-z-]+)" dir="(?P<dir>ltr|rtl)">')
OVERVIEW_TITLE = {"en": "Overview", "de": "Übersicht", "pl": "Przegląd", "ar": "نظرة عامة"}


def _in_language(client: Client, language: str) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_every_page_renders_in_every_language(cast, language):
    objects = org_a_objects(cast)
    client = _in_language(web_client(cast.alice), language)
    for route in web_routes():
        path = fill_route(route, objects.ids)
        response = client.get(path)
        if response.status_code == 405:  # POST-only actions
            continue
        if response.get("Content-Disposition", "").startswith("attachment"):  # a download, not a page
            assert response.status_code == 200, path
            continue
        if response.status_code == 302:  # e.g. 2FA setup once it is on: sent back to a staff page
            assert not response["Location"].startswith("/login/"), path
            continue
        assert response.status_code == 200, (path, response.status_code)
        opening = HTML_OPENING.search(response.content.decode())
        assert opening, path
        assert opening["lang"] == language, path
        assert opening["dir"] == ("rtl" if language == "ar" else "ltr"), path


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_the_overview_speaks_the_language(cast, language):
    body = _in_language(web_client(cast.alice), language).get("/").content.decode()
    assert f"<h1>{OVERVIEW_TITLE[language]}</h1>" in body


def test_the_language_selector_switches_the_whole_ui(cast):
    client = web_client(cast.alice)
    response = client.post("/i18n/setlang/", {"language": "ar", "next": "/contacts/"})
    assert response.status_code == 302 and response["Location"] == "/contacts/"
    body = client.get("/contacts/").content.decode()
    assert '<html lang="ar" dir="rtl">' in body
    client.post("/i18n/setlang/", {"language": "de", "next": "/"})
    assert '<html lang="de" dir="ltr">' in client.get("/").content.decode()


def test_the_profile_language_wins_over_the_browser(cast):
    cast.alice.language = "pl"
    cast.alice.save()
    client = web_client(cast.alice)
    body = client.get("/", headers={"Accept-Language": "de"}).content.decode()
    assert '<html lang="pl" dir="ltr">' in body


def test_before_signing_in_the_browser_language_is_used(db):
    body = Client().get("/login/", headers={"Accept-Language": "ar,en;q=0.5"}).content.decode()
    assert '<html lang="ar" dir="rtl">' in body


def test_pages_reach_only_what_the_role_allows_in_the_navigation(cast):
    enable_two_factor(cast.bob)
    body = web_client(cast.bob).get("/").content.decode()
    assert 'href="/contacts/"' in body
    assert 'href="/audit/"' not in body and 'href="/settings/members/"' not in body
    assert web_client(cast.bob).get("/audit/").status_code == 403


def test_routes_with_parameters_are_filled_for_the_walk(cast):
    objects = org_a_objects(cast)
    assert all(name in objects.ids for route in web_routes() for name in route_parameters(route))


def test_a_phone_number_reads_alike_on_every_page(cast):
    """Found by the bug hunt: the contact's page wrote "+49 30 1234567", the lists, the
    company's page and the lead's pages the stored "+49301234567"."""
    from custos.core.tenancy import tenant_scope
    from custos.crm.services.leads import lead_create
    from custos.crm.services.people import company_create, contact_create

    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.olive)
        contact = contact_create(actor=actor, data={"last_name": "Lind", "phone": "030 1234567"})
        company = company_create(actor=actor, data={"name": "Nordwind", "phone": "030 1234567"})
        lead = lead_create(actor=actor, data={"last_name": "Kim", "phone": "030 1234567"})
    client = web_client(cast.olive)

    for path in (
        "/contacts/",
        f"/contacts/{contact.pk}/",
        "/companies/",
        f"/companies/{company.pk}/",
        f"/leads/{lead.pk}/",
        f"/leads/{lead.pk}/convert/",
    ):
        body = client.get(path).content.decode()
        assert "+49 30 1234567" in body and "+49301234567" not in body, path
