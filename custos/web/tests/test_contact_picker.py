"""The contact picker on the deal and appointment forms: typed, not chosen from a select of
the first 500, offering only whom the actor may see, by fields they may see, and read back
from its label, the email or the exact name; also without JavaScript."""

import re

import pytest

from custos.api.tests.helpers import hide
from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.models import Deal
from custos.crm.services.deals import deal_create
from custos.crm.services.people import company_create, contact_bulk_create, contact_create
from custos.scheduling.models import Recall
from custos.scheduling.services.catalogue import service_create
from custos.testing import web_client
from custos.web.tests.sales import crm_state, fresh, in_org_a, stages_of

PARTIAL = {"HTTP_HX_REQUEST": "true"}
ADDRESS = re.compile(r'(?:href|action|src|hx-get|hx-post|data-move-url)="([^"]*)"')


@pytest.fixture
def people(cast):
    stages_of(cast)  # the first pipeline, made before anything is compared

    def contact(**data):
        return in_org_a(cast, contact_create, data=data)

    found = {
        "anna": contact(first_name="Anna", last_name="Berg", email="anna@berg.example"),
        "anna_work": contact(first_name="Anna", last_name="Berg", email="anna.berg@work.example"),
        "ben": contact(first_name="Ben", last_name="Kurz", phone="+49 30 1234567"),
        "carl": contact(first_name="Carl", last_name="Ohm"),
        "carl_too": contact(first_name="Carl", last_name="Ohm"),
        "eva": contact(first_name="Eva", last_name="Lind", email="eva@lind.example"),
        "eva_too": contact(first_name="Eva", last_name="Lind"),  # no email: her name alone is not enough
        "sams": in_org_a(
            cast,
            contact_create,
            user=cast.sam,
            data={"first_name": "Dora", "last_name": "Sand", "email": "ds@nordlicht.example", "phone": "+49 40 555666"},
        ),
    }
    with tenant_scope(cast.org_b):
        mallory = cast.actor(cast.mallory, cast.org_b, Via.WEB)
        found["foreign"] = contact_create(
            actor=mallory, data={"first_name": "Anna", "last_name": "Bergmann", "email": "anna@bravo.example"}
        )
    return found


def _options(client, typed, field="contact"):
    return client.post("/contacts/options/", {field: typed}, **PARTIAL).content.decode()


def _new_deal(client, cast, contact_text):
    stage = stages_of(cast)["Qualification"]
    return client.post(
        "/deals/new/", {"name": "Chairs", "stage": str(stage.pk), "currency": "EUR", "contact": contact_text}
    )


def _last_deal(cast):
    with tenant_scope(cast.org_a):
        return Deal.objects.order_by("-created_at").first()


def test_the_options_are_labels_of_whom_the_actor_may_see(cast, people):
    client = web_client(cast.alice)

    options = _options(client, "anna")

    assert 'value="Anna Berg · anna@berg.example"' in options
    assert 'value="Anna Berg · anna.berg@work.example"' in options
    assert "bravo" not in options  # another organisation's
    # By phone when there is no email; twins of the same name and nothing else by their reference.
    assert 'value="Ben Kurz · +49301234567"' in _options(client, "kurz")
    carls = _options(client, "carl ohm")
    assert f'value="Carl Ohm · {str(people["carl"].pk)[-6:]}"' in carls
    assert f'value="Carl Ohm · {str(people["carl_too"].pk)[-6:]}"' in carls
    # The search text may come as q too; one letter offers nothing yet.
    assert 'value="Anna Berg · anna@berg.example"' in _options(client, "berg", field="q")
    assert _options(client, "a").strip() == ""
    response = client.post("/contacts/options/", {"contact": "anna"}, **PARTIAL)
    assert "no-store" in response["Cache-Control"]
    # What is typed may be an email: it is never asked for in an address, not even by htmx.
    for extra in (PARTIAL, {}):
        refused = client.get("/contacts/options/", {"q": "anna@berg.example"}, **extra)
        assert (refused.status_code, refused["Allow"]) == (405, "POST")
        assert "berg.example" not in refused.content.decode()
    # A post not from the picker is sent to the list it picks from.
    assert client.post("/contacts/options/", {"q": "anna"})["Location"] == "/contacts/"


def test_another_organisation_neither_offers_nor_finds_them(cast, people):
    mallorys = web_client(cast.mallory)
    offered = _options(mallorys, "anna")
    assert 'value="Anna Bergmann · anna@bravo.example"' in offered and "berg.example" not in offered

    client = web_client(cast.alice)
    before = crm_state(cast)
    for typed in ("anna@bravo.example", "Anna Bergmann · anna@bravo.example", "Anna Bergmann"):
        response = _new_deal(client, cast, typed)
        assert response.status_code == 200, typed
        assert "No contact of this name or email address" in response.content.decode(), typed
    assert crm_state(cast) == before


def test_a_member_limited_to_their_own_records_picks_among_them_only(cast, people):
    sam = web_client(cast.sam)
    assert 'value="Dora Sand · ds@nordlicht.example"' in _options(sam, "sand")
    assert _options(sam, "anna").strip() == ""
    before = crm_state(cast)
    assert "No contact of this name" in _new_deal(sam, cast, "anna@berg.example").content.decode()
    assert crm_state(cast) == before
    assert _new_deal(sam, cast, "Dora Sand · ds@nordlicht.example").status_code == 302
    assert _last_deal(cast).contact_id == people["sams"].pk


def test_a_role_that_may_not_see_emails_gets_labels_without_them_and_cannot_pick_by_one(cast, people):
    hide(cast, "sales", "contact.email")
    sam = web_client(cast.sam)

    options = _options(sam, "dora")

    assert 'value="Dora Sand · +4940555666"' in options and "ds@nordlicht.example" not in options
    assert _options(sam, "nordlicht").strip() == ""  # not found by a field the role may not see
    before = crm_state(cast)
    response = _new_deal(sam, cast, "ds@nordlicht.example")
    assert "No contact of this name or email address" in response.content.decode()
    assert crm_state(cast) == before
    assert _new_deal(sam, cast, "Dora Sand · +4940555666").status_code == 302
    deal = _last_deal(cast)
    assert deal.contact_id == people["sams"].pk
    edit = sam.get(f"/deals/{deal.pk}/edit/").content.decode()
    assert 'value="Dora Sand · +4940555666"' in edit and "ds@nordlicht.example" not in edit


def test_a_contact_is_picked_by_label_email_or_exact_name_and_a_doubtful_one_is_explained(cast, people):
    client = web_client(cast.alice)
    carl_too = f"Carl Ohm · {str(people['carl_too'].pk)[-6:]}"
    eva_too = f"Eva Lind · {str(people['eva_too'].pk)[-6:]}"
    assert f'value="{eva_too}"' in _options(client, "eva lind")
    for typed, expected in (
        (eva_too, "eva_too"),
        ("Eva Lind · eva@lind.example", "eva"),
        ("Anna Berg · anna.berg@work.example", "anna_work"),
        ("ANNA@berg.example", "anna"),
        ("ben kurz", "ben"),
        ("Ben Kurz · +49301234567", "ben"),
        (carl_too, "carl_too"),
    ):
        response = _new_deal(client, cast, typed)
        assert response.status_code == 302, typed
        assert _last_deal(cast).contact_id == people[expected].pk, typed

    before = crm_state(cast)
    for typed, message in (
        ("Anna Berg", "Several contacts have this name: choose one from the list."),
        ("Carl Ohm", "Several contacts have this name: choose one from the list."),
        ("Zoe Unbekannt", "No contact of this name or email address"),
        ("Anna Berg · nobody@berg.example", "No contact of this name or email address"),
    ):
        response = _new_deal(client, cast, typed)
        body = response.content.decode()
        assert response.status_code == 200 and message in body, typed
        # The error sits on the picker, which keeps what was typed.
        assert 'aria-invalid="true"' in body.split('name="contact"')[1].split(">")[0], typed
    assert crm_state(cast) == before


def test_the_501st_contact_can_be_picked(cast):
    items = [{"first_name": "Person", "last_name": f"{number:04}"} for number in range(500)]
    items.append({"first_name": "Zora", "last_name": "Last", "email": "zora@last.example"})
    with tenant_scope(cast.org_a):
        last = contact_bulk_create(actor=cast.actor(cast.olive), items=items)[-1]
        service = service_create(actor=cast.actor(cast.olive), data={"name": "Check-up", "duration_minutes": 30})
    client = web_client(cast.alice)

    assert 'value="Zora Last · zora@last.example"' in _options(client, "zora")
    assert _new_deal(client, cast, "Zora Last · zora@last.example").status_code == 302
    assert _last_deal(cast).contact_id == last.pk
    recall = {
        "contact": "zora@last.example",
        "service": str(service.pk),
        "interval_months": "6",
        "due_on": "2031-05-01",
    }
    assert client.post("/appointments/recalls/new/", recall).status_code == 302
    with tenant_scope(cast.org_a):
        assert Recall.objects.get().contact_id == last.pk


def test_a_form_opened_for_a_contact_names_it_by_id_and_shows_its_label(cast, people):
    client = web_client(cast.alice)
    anna = people["anna"]
    page = client.get(f"/contacts/{anna.pk}/").content.decode()
    # Links from the contact's page carry its id, never one of its values.
    assert f'href="/appointments/new/?contact={anna.pk}"' in page
    assert f'href="/deals/new/?contact={anna.pk}"' in page
    for path in (f"/deals/new/?contact={anna.pk}", f"/appointments/new/?contact={anna.pk}"):
        form = client.get(path).content.decode()
        assert 'name="contact" value="Anna Berg · anna@berg.example"' in form, path
        # The picker asks for its options by posting: no address of the page holds the email.
        assert 'hx-post="/contacts/options/" hx-params="contact"' in form, path
        assert not [url for url in ADDRESS.findall(form) if "berg.example" in url], path
    for unknown in (people["foreign"].pk, "not-an-id"):  # another organisation's, or nobody's: left empty
        form = client.get(f"/deals/new/?contact={unknown}").content.decode()
        assert 'name="contact" autocomplete="off"' in form and "bravo" not in form


def test_an_edit_keeps_a_contact_the_member_could_not_pick_and_shows_no_email_of_it(cast, people):
    anna = people["anna"]  # olive's: past sam's record scope
    deal = in_org_a(cast, deal_create, data={"name": "Lamps", "contact": str(anna.pk), "owner": str(cast.sam.pk)})
    sam = web_client(cast.sam)
    edit = sam.get(f"/deals/{deal.pk}/edit/").content.decode()
    label = f"Anna Berg · {str(anna.pk)[-6:]}"
    assert f'name="contact" value="{label}"' in edit and "anna@berg.example" not in edit
    stage = str(fresh(cast, deal).stage_id)
    form = {"name": "Lamps, more", "stage": stage, "currency": "EUR", "owner": str(cast.sam.pk), "contact": label}
    saved = sam.post(f"/deals/{deal.pk}/edit/", form)
    assert saved.status_code == 302
    assert (fresh(cast, deal).name, fresh(cast, deal).contact_id) == ("Lamps, more", anna.pk)


def test_contacts_of_no_name_sharing_an_email_are_picked_by_their_reference(cast):
    """An email alone names a contact (an import may hold it twice); twins of it are offered
    as "Contact · <email> · <reference>", and that label is read back."""
    stages_of(cast)
    first = in_org_a(cast, contact_create, data={"email": "info@twin.example"})
    second = in_org_a(cast, contact_create, data={"email": "info@twin.example"})
    client = web_client(cast.alice)
    labels = {contact.pk: f"Contact · info@twin.example · {str(contact.pk)[-6:]}" for contact in (first, second)}
    options = _options(client, "info@twin.example")
    assert all(f'value="{label}"' in options for label in labels.values())

    for contact in (second, first):
        response = _new_deal(client, cast, labels[contact.pk])
        assert response.status_code == 302, labels[contact.pk]
        assert _last_deal(cast).contact_id == contact.pk
    before = crm_state(cast)
    response = _new_deal(client, cast, "Contact · info@twin.example · 000000")
    assert "No contact of this name or email address" in response.content.decode()
    assert crm_state(cast) == before


def test_a_company_or_a_name_holding_the_separator_is_read_back_from_its_label(cast, people):
    """A label is split where its parts could be a name and what follows, not just at the last
    " · ": a company "Müller · Söhne" qualifies a contact and names a company on its own."""
    company = in_org_a(cast, company_create, data={"name": "Müller · Söhne"})
    roth = in_org_a(cast, contact_create, data={"first_name": "Ida", "last_name": "Roth", "company": str(company.pk)})
    dotted = in_org_a(
        cast, contact_create, data={"first_name": "Jo · Jo", "last_name": "Wolf", "phone": "+49 30 7654321"}
    )
    client = web_client(cast.alice)
    assert 'value="Ida Roth · Müller · Söhne"' in _options(client, "roth")
    assert 'value="Jo · Jo Wolf · +49307654321"' in _options(client, "wolf")

    for typed, expected in (("Ida Roth · Müller · Söhne", roth), ("Jo · Jo Wolf · +49307654321", dotted)):
        stage = stages_of(cast)["Qualification"]
        data = {"name": "Chairs", "stage": str(stage.pk), "currency": "EUR", "contact": typed}
        assert client.post("/deals/new/", {**data, "company": "Müller · Söhne"}).status_code == 302, typed
        deal = _last_deal(cast)
        assert (deal.contact_id, deal.company_id) == (expected.pk, company.pk), typed
        assert f'value="{typed}"' in client.get(f"/deals/{deal.pk}/edit/").content.decode()


def test_a_role_that_may_not_see_names_finds_and_picks_contacts_by_reference(cast, people):
    """Offered as "Contact · <what the role may see> · <reference>", found by that or by the
    reference the contact list shows, typed or chosen; no hidden value shows anywhere."""
    hide(cast, "sales", "contact.first_name", "contact.last_name", "contact.email")
    dora = people["sams"]
    reference = str(dora.pk)[-6:]
    label = f"Contact · +4940555666 · {reference}"
    sam = web_client(cast.sam)
    listed = sam.get("/contacts/").content.decode()
    assert f"Contact {reference}" in listed

    for typed in ("+4940555666", f"Contact {reference}", reference.upper(), label):
        options = _options(sam, typed)
        assert f'value="{label}"' in options, typed
        assert not {"Dora", "Sand", "nordlicht"} & set(re.findall(r"\w+", options)), typed
    assert _options(sam, "dora").strip() == ""  # not found by a field the role may not see

    before = crm_state(cast)
    for hidden in ("Dora Sand", "ds@nordlicht.example", "Contact · 000000"):
        assert "No contact of this name or email address" in _new_deal(sam, cast, hidden).content.decode(), hidden
    assert crm_state(cast) == before
    # Chosen from the list, or typed as the contact list shows it (without JavaScript).
    for typed in (label, f"Contact {reference}"):
        assert _new_deal(sam, cast, typed).status_code == 302, typed
        deal = _last_deal(cast)
        assert deal.contact_id == dora.pk, typed
    edit = sam.get(f"/deals/{deal.pk}/edit/").content.decode()
    assert f'name="contact" value="{label}"' in edit and "Dora" not in edit and "nordlicht" not in edit


def test_the_picker_says_how_to_use_it_to_screen_readers_too(cast, people):
    client = web_client(cast.alice)
    help_text = "Type a name, email, phone or reference, then choose from the list."
    for path in ("/deals/new/", "/appointments/new/", "/appointments/recalls/new/"):
        form = client.get(path).content.decode()
        picker = form.split('name="contact"')[1].split(">")[0]
        assert 'aria-describedby="id_contact_helptext"' in picker, path
        assert f'<div class="helptext" id="id_contact_helptext">{help_text}</div>' in form, path
    refused = _new_deal(client, cast, "Zoe Unbekannt").content.decode()
    picker = refused.split('name="contact"')[1].split(">")[0]
    assert 'aria-describedby="id_contact_helptext id_contact_error"' in picker


def test_a_name_with_a_tab_is_picked_by_its_own_label(cast):
    """A tab is allowed in a name; stripping it from what a picker reads (review) lost the record."""
    from custos.web.pickers import company_from_label, company_label, contact_from_label, contact_label

    company = in_org_a(cast, company_create, data={"name": "Acme\tWorks"})
    contact = in_org_a(cast, contact_create, data={"first_name": "Ada\tMarie", "last_name": "Lovelace"})
    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        assert company_from_label(actor, "company", company_label(company)) == company
        assert contact_from_label(actor, "contact", contact_label(actor, contact)) == contact
