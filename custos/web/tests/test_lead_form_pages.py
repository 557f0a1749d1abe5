"""The web-form builder: admins make forms and get the embed snippet; sales see forms and
their submissions; read-only members see neither; a denied change changes nothing."""

from __future__ import annotations

import html

from django.test import Client

from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.crm.models import LeadForm
from custos.crm.services.forms import lead_form_create
from custos.privacy.services.consent import purpose_create
from custos.testing import web_client


def _form(cast, **data):
    with tenant_scope(cast.org_a):
        return lead_form_create(
            actor=cast.actor(cast.alice),
            data={"name": "Contact us", "fields": [{"name": "email", "required": True}], **data},
        )


def _state(cast):
    with tenant_scope(cast.org_a):
        return (
            list(LeadForm.objects.order_by("pk").values()),
            AuditEntry.objects.count(),
        )


def test_an_admin_builds_a_form_and_gets_its_snippet(cast):
    with tenant_scope(cast.org_a):
        purpose = purpose_create(
            actor=cast.actor(cast.alice),
            data={"key": "news", "legal_basis": "consent", "is_marketing": True, "names": {"en": "News"}},
        )
    client = web_client(cast.alice)
    page = client.get("/settings/web-forms/new/")
    assert page.status_code == 200
    assert "News (marketing: double opt-in)" in page.content.decode()
    response = client.post(
        "/settings/web-forms/new/",
        {
            "name": "Fair 2030",
            "is_active": "on",
            "ask_last_name": "required",
            "ask_email": "required",
            "ask_company_name": "optional",
            "purposes": [str(purpose.pk)],
            "thank_you_en": "See you at the fair.",
            "thank_you_de": "Bis zur Messe.",
            "tags": "fair, 2030",
        },
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        form = LeadForm.objects.get(name="Fair 2030")
        assert form.fields == [
            {"name": "last_name", "required": True},
            {"name": "email", "required": True},
            {"name": "company_name", "required": False},
        ]
        assert list(form.purposes.all()) == [purpose]
        assert form.thank_you == {"en": "See you at the fair.", "de": "Bis zur Messe."}
        assert form.tags == ["fair", "2030"]
        assert AuditEntry.objects.filter(action="lead_form.create", object_id=str(form.pk)).exists()
    assert response["Location"] == f"/settings/web-forms/{form.pk}/"
    edit = html.unescape(client.get(response["Location"]).content.decode())
    assert f'<iframe src="http://testserver/forms/{form.public_key}/"' in edit
    assert len(form.public_key) >= 24
    listing = client.get("/settings/web-forms/").content.decode()
    assert "Fair 2030" in listing and 'href="/settings/web-forms/"' in listing  # in the navigation


def test_bad_input_names_the_field_and_changes_nothing(cast):
    with tenant_scope(cast.org_a):
        purpose = purpose_create(
            actor=cast.actor(cast.alice),
            data={"key": "news", "legal_basis": "consent", "is_marketing": True, "names": {"en": "News"}},
        )
    before = _state(cast)
    client = web_client(cast.alice)
    response = client.post(
        "/settings/web-forms/new/", {"name": "No mail", "ask_last_name": "required", "purposes": [str(purpose.pk)]}
    )
    assert response.status_code == 200
    assert "must ask for the email address" in response.content.decode()
    assert _state(cast) == before


def test_an_admin_edits_and_deletes_a_form(cast):
    form = _form(cast)
    client = web_client(cast.alice)
    response = client.post(
        f"/settings/web-forms/{form.pk}/", {"name": "Renamed", "ask_email": "required", "ask_phone": "optional"}
    )
    assert response.status_code == 302
    with tenant_scope(cast.org_a):
        form.refresh_from_db()
        assert form.name == "Renamed" and not form.is_active
        assert form.fields == [{"name": "email", "required": True}, {"name": "phone", "required": False}]
    assert client.post(f"/settings/web-forms/{form.pk}/delete/").status_code == 302
    with tenant_scope(cast.org_a):
        assert not LeadForm.objects.exists()


def test_sales_see_forms_and_submissions_but_may_not_change_them(cast):
    form = _form(cast)
    Client().post(f"/forms/{form.public_key}/", {"email": "visitor@example.org"}, REMOTE_ADDR="198.51.100.9")
    before = _state(cast)
    sam = web_client(cast.sam)
    assert sam.get("/settings/web-forms/").status_code == 200
    assert sam.get(f"/settings/web-forms/{form.pk}/").status_code == 403
    assert sam.post(f"/settings/web-forms/{form.pk}/", {"name": "x", "ask_email": "required"}).status_code == 403
    assert sam.post(f"/settings/web-forms/{form.pk}/delete/").status_code == 403
    assert sam.post("/settings/web-forms/new/", {"name": "x", "ask_email": "required"}).status_code == 403
    assert _state(cast) == before
    # Submissions list only leads a member may see: sam sees none he does not own.
    page = sam.get(f"/settings/web-forms/{form.pk}/submissions/").content.decode()
    assert "visitor@example.org" not in page
    admin_page = web_client(cast.alice).get(f"/settings/web-forms/{form.pk}/submissions/").content.decode()
    assert "visitor@example.org" in admin_page


def test_read_only_members_do_not_see_web_forms(cast):
    form = _form(cast)
    bob = web_client(cast.bob)
    assert bob.get("/settings/web-forms/").status_code == 403
    assert bob.get(f"/settings/web-forms/{form.pk}/submissions/").status_code == 403
    assert 'href="/settings/web-forms/"' not in bob.get("/").content.decode()


def test_submissions_show_no_lead_field_the_role_hides(cast):
    from custos.api.tests.helpers import hide
    from custos.crm.models import Lead

    form = _form(cast, fields=[{"name": "first_name"}, {"name": "last_name"}, {"name": "email", "required": True}])
    Client().post(
        f"/forms/{form.public_key}/",
        {"first_name": "Wilhelmina", "last_name": "Quast", "email": "visitor@example.org"},
        REMOTE_ADDR="198.51.100.9",
    )
    with tenant_scope(cast.org_a):
        Lead.objects.update(score=87)
    alice = web_client(cast.alice)
    shown = alice.get(f"/settings/web-forms/{form.pk}/submissions/").content.decode()
    assert "Wilhelmina Quast" in shown and ">87<" in shown
    assert ">new</td>" in shown
    hide(cast, "admin", "lead.first_name", "lead.last_name", "lead.email", "lead.score", "lead.status")
    page = alice.get(f"/settings/web-forms/{form.pk}/submissions/").content.decode()
    assert "Wilhelmina" not in page and "Quast" not in page and "visitor@example.org" not in page
    assert ">87<" not in page and "Score" not in page
    assert ">new</td>" not in page and "Status" not in page
