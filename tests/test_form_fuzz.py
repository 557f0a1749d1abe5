"""Every form of every page, filled with what a careless or hostile person might type.

Each staff page is opened as org A's owner (and the hosted web form and the privacy portal as
their visitors do); every form found on it is posted with each value below in all of its
fields, and with none. Whatever comes in, the answer is never a server error, and a value
shown back is escaped.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from custos.core.tenancy import tenant_scope
from custos.crm.models import Lead, LeadForm
from custos.crm.services.forms import HONEYPOT
from custos.privacy.models import Subject
from custos.privacy.services.portal import portal_link_create, portal_link_url
from custos.testing import Cast, fill_route, org_a_objects, web_client, web_routes

SCRIPT = "<script>alert('custos')</script>"
HOSTILE = [
    "",
    "\x00",
    "x" * 100_000,
    SCRIPT,
    '=HYPERLINK("http://example.com/steal","Click")',
    "-1",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "2026-02-30",
    "31.12.99999",
    "not-an-id",
    "00000000-0000-0000-0000-000000000000",
    "Zoë ‮ عبد الرحمن",
]
# Forms (and pages) that end the session or remove the objects later ones stand on go last.
ENDING = ("delete", "remove", "revoke", "undo", "merge", "sign-out", "disable", "close", "switch")
# Every staff page's header: searched and switched once, in their own test; never signed out.
HEADER = {"/search/", "/i18n/setlang/"}
SIGN_OUT = {"/logout/", "/privacy/portal/sign-out/"}


# What a person would type into an empty field of each input type, so that a form is first
# posted valid where it can be, and then one field at a time is made hostile.
PLAIN = {
    "email": "probe@example.org",
    "tel": "+49 30 1234567",
    "url": "https://example.org",
    "number": "1",
    "date": "2030-01-07",
    "datetime-local": "2030-01-07T09:00",
    "time": "09:00",
}
# Tried in each field alone.
ONE_FIELD = [SCRIPT + "\x00", "9" * 400, "x" * 100_000]


@dataclass
class _Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # name → the value a person would send
    buttons: list[tuple[str, str]] = field(default_factory=list)  # named submit buttons: one is sent
    also: set[str] = field(default_factory=set)  # where htmx or a button posts the same fields too


class _Forms(HTMLParser):
    """The POST forms of a page: each one's action and its fields, filled as shown."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self._form: _Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        name = attributes.get("name", "")
        if tag == "form" and attributes.get("method", "get").lower() == "post":
            self._form = _Form(attributes.get("action", ""))
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag != "form" and (elsewhere := attributes.get("hx-post") or attributes.get("formaction")):
            self._form.also.add(elsewhere)
        fields = self._form.fields
        kind = attributes.get("type", "text").lower()
        if tag == "input" and name and name != "csrfmiddlewaretoken" and kind not in {"file", "submit", "button"}:
            if kind in {"checkbox", "radio"}:
                if "checked" in attributes or name not in fields:
                    fields[name] = attributes.get("value", "on")
            elif name == HONEYPOT:
                fields[name] = ""  # what a person leaves empty: filled, the post is taken for a bot's
            else:
                fields[name] = attributes.get("value") or PLAIN.get(kind, "Probe")
        elif tag == "button" and name:
            self._form.buttons.append((name, attributes.get("value", "")))
        elif tag == "select" and name:
            self._select = name
            fields[name] = ""
        elif tag == "option" and self._select is not None:
            value = attributes.get("value", "")
            if "selected" in attributes or not fields[self._select]:
                fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self._form is not None:
            self._form.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._form is not None and self._textarea is not None and not self._form.fields[self._textarea]:
                self._form.fields[self._textarea] = "Probe"
            self._textarea = None


def _forms(body: str) -> list[_Form]:
    parser = _Forms()
    parser.feed(body)
    return parser.forms


def _body(response: Any) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def _order(target: str) -> tuple[bool, str]:
    return any(word in target for word in ENDING), target


def _tries(form: _Form) -> list[dict[str, str]]:
    """The form as shown, then one field at a time hostile, then each hostile value in all
    fields, and nothing; with its first button that ends nothing (the one a person presses
    most), and at the very end once with each button that ends something."""
    pressed = [(name, value) for name, value in form.buttons if not any(word in name for word in ENDING)][:1]
    shown = {**form.fields, **dict(pressed)}
    tries = [shown, *({**shown, name: value} for name in form.fields for value in ONE_FIELD)]
    tries += [{}, *({**dict.fromkeys(form.fields, value), **dict(pressed)} for value in HOSTILE)]
    tries += [{**form.fields, name: value} for name, value in form.buttons if (name, value) not in pressed]
    return tries


def _post_everything(client: Client, page: str, *, skip: set[str] = HEADER, **extra: Any) -> list[int]:
    """Post every form of the page in all the ways `_tries` lists; the answers' statuses."""
    opened = client.get(page)
    assert opened.status_code < 500, (page, opened.status_code)
    if opened.status_code != 200 or not opened["Content-Type"].startswith("text/html"):
        return []
    forms = [form for form in _forms(_body(opened)) if (form.action or page) not in skip | SIGN_OUT]
    # Only this site's own addresses: none other is expected.
    forms = [form for form in forms if (form.action or page).startswith("/")]
    statuses = []
    for form in sorted(forms, key=lambda form: _order(form.action or page)):
        targets = [(form.action or page, {}), *((also, {"HX-Request": "true"}) for also in sorted(form.also))]
        for (target, headers), (number, data) in itertools.product(targets, enumerate(_tries(form))):
            address = {"REMOTE_ADDR": f"192.0.2.{number % 250 + 1}"} if extra.get("many_visitors") else {}
            response = client.post(target, data, headers=headers, **address)
            statuses.append(response.status_code)
            assert response.status_code < 500, (target, data, response.status_code)
            # Still signed in: a form that signed out would leave the rest untried.
            assert not response.get("Location", "").startswith("/login/") or "sign-out" in target, target
            if SCRIPT in "".join(data.values()):
                assert SCRIPT not in _body(response), (target, "shows the posted text unescaped")
    return statuses


@pytest.mark.parametrize("route", sorted(web_routes(), key=_order))
def test_no_form_input_breaks_a_staff_page(cast: Cast, route: str) -> None:
    objects = org_a_objects(cast)
    statuses = _post_everything(web_client(cast.olive), fill_route(route, objects.ids))
    # A page's forms are answered, not all refused for a gone record (a delete's own later tries are).
    assert not statuses or set(statuses) - {404}, (route, statuses)


def test_no_input_breaks_the_header_forms(cast: Cast) -> None:
    statuses = _post_everything(web_client(cast.olive), "/", skip=set())
    assert len(statuses) >= len(HEADER) * (2 + len(HOSTILE)), statuses  # both forms, every try


def test_no_input_breaks_the_hosted_web_form_or_the_privacy_portal(cast: Cast) -> None:
    objects = org_a_objects(cast)
    with tenant_scope(cast.org_a):
        form = LeadForm.objects.get(pk=objects.ids["lead_form_id"])
        subject = Subject.objects.get(pk=objects.ids["subject_id"])
        _, secret = portal_link_create(actor=cast.actor(cast.olive), subject=subject, language="en")
    # Each try from another address: the form takes only so many posts from one.
    statuses = _post_everything(Client(), f"/forms/{form.public_key}/", many_visitors=True)
    assert 302 in statuses and 422 in statuses, statuses  # a lead taken, and a refusal naming fields
    with tenant_scope(cast.org_a):
        assert Lead.objects.filter(source=Lead.Source.WEB_FORM).exists()
    person = Client()
    assert person.get(portal_link_url(secret)).status_code in {200, 302}
    for page in ("/privacy/portal/me/", f"/privacy/portal/{cast.org_a.slug}/"):
        assert set(_post_everything(person, page)) - {404}, page
