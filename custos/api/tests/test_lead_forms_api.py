"""/api/v1/lead-forms: the web-form builder by API, with the builder's rights and rules."""

from __future__ import annotations

from custos.api.tests.helpers import created, entries, field_errors, ok, patch, post, problem, snapshot, warmed
from custos.core.tenancy import tenant_scope
from custos.crm.models import LeadForm
from custos.crm.services.forms import form_submit
from custos.privacy.services.consent import purpose_create
from custos.testing import api_client


def _purpose(cast, key="news", *, marketing=False):
    with tenant_scope(cast.org_a):
        return purpose_create(
            actor=cast.actor(cast.alice),
            data={"key": key, "legal_basis": "consent", "is_marketing": marketing, "names": {"en": key}},
        )


def test_a_form_is_created_read_listed_changed_and_deleted(cast):
    purpose = _purpose(cast)
    client = api_client(cast, cast.alice, "write")
    body = created(
        client,
        "/api/v1/lead-forms",
        name="Fair 2030",
        fields=[{"name": "email", "required": True}, {"name": "last_name"}],
        purposes=[str(purpose.pk)],
        thank_you={"en": "See you.", "de": "Bis bald."},
        tags=["fair"],
    )
    with tenant_scope(cast.org_a):
        public_key = LeadForm.objects.get(pk=body["id"]).public_key
    assert body == {
        "id": body["id"],
        "name": "Fair 2030",
        # Always in the one order every form shows its fields in.
        "fields": [{"name": "last_name", "required": False}, {"name": "email", "required": True}],
        "purposes": [str(purpose.pk)],
        "thank_you": {"en": "See you.", "de": "Bis bald."},
        "tags": ["fair"],
        "is_active": True,
        "hosted_url": f"http://127.0.0.1:8000/forms/{public_key}/",
        "submission_count": 0,
        "created_at": body["created_at"],
    }
    assert ok(client.get(f"/api/v1/lead-forms/{body['id']}")) == body
    assert ok(client.get("/api/v1/lead-forms")) == {"items": [body], "next": None}

    changed = ok(patch(client, f"/api/v1/lead-forms/{body['id']}", {"is_active": False, "purposes": []}))
    assert changed == body | {"is_active": False, "purposes": []}
    assert client.get(f"/forms/{public_key}/").status_code == 404  # the hosted page is closed
    assert client.delete(f"/api/v1/lead-forms/{body['id']}").status_code == 204
    problem(client.get(f"/api/v1/lead-forms/{body['id']}"), 404)
    assert [(e.action, e.object_id, e.fields) for e in entries(cast.org_a, "lead_form.")] == [
        ("lead_form.create", body["id"], ["fields", "name", "purposes", "tags", "thank_you"]),
        ("lead_form.update", body["id"], ["is_active", "purposes"]),
        ("lead_form.delete", body["id"], []),
    ]


def test_the_submission_count_follows_the_visitors(cast):
    client = api_client(cast, cast.alice)
    body = created(client, "/api/v1/lead-forms", name="Contact", fields=[{"name": "email", "required": True}])
    with tenant_scope(cast.org_a):
        form = LeadForm.objects.get(pk=body["id"])
        form_submit(form=form, data={"email": "ines@example.com"}, ip="192.0.2.1", user_agent="", language="en")
    assert ok(client.get(f"/api/v1/lead-forms/{body['id']}"))["submission_count"] == 1


def test_bad_input_names_each_field_and_changes_nothing(cast):
    marketing = _purpose(cast, "mail", marketing=True)
    client = warmed(api_client(cast, cast.alice))
    before = snapshot(cast.org_a)
    errors = field_errors(
        post(
            client,
            "/api/v1/lead-forms",
            {"name": "", "fields": [], "thank_you": {"xx": "Hi"}, "purposes": ["not-an-id"]},
        )
    )
    assert {e["field"] for e in errors} == {"name", "fields", "thank_you.xx", "purposes"}
    # Marketing consent needs an address to confirm it by.
    errors = field_errors(
        post(
            client,
            "/api/v1/lead-forms",
            {"name": "News", "fields": [{"name": "email"}], "purposes": [str(marketing.pk)]},
        )
    )
    assert [e["field"] for e in errors] == ["fields"]
    errors = field_errors(
        post(client, "/api/v1/lead-forms", {"name": "X", "fields": [{"name": "password"}], "colour": "red"})
    )
    assert {e["field"] for e in errors} >= {"colour"}
    errors = field_errors(post(client, "/api/v1/lead-forms", {"name": "X", "fields": [{"name": "password"}]}))
    assert [e["field"] for e in errors] == ["fields"]
    errors = field_errors(post(client, "/api/v1/lead-forms", {"name": "X", "is_active": "yes"}))
    assert [e["field"] for e in errors] == ["is_active"]
    assert snapshot(cast.org_a) == before


def test_a_purpose_taken_out_of_use_may_stay_on_its_form_but_not_be_added(cast):
    """What a read lists can be written back; a purpose out of use is never newly offered."""
    from custos.privacy.services.consent import purpose_update

    kept, other = _purpose(cast, "callback"), _purpose(cast, "survey")
    client = api_client(cast, cast.alice, "write")
    body = created(
        client,
        "/api/v1/lead-forms",
        name="Contact",
        fields=[{"name": "email", "required": True}],
        purposes=[str(kept.pk)],
    )
    with tenant_scope(cast.org_a):
        for purpose in (kept, other):
            purpose_update(actor=cast.actor(cast.alice), purpose=purpose, data={"is_active": False})
    read = ok(client.get(f"/api/v1/lead-forms/{body['id']}"))
    assert read["purposes"] == [str(kept.pk)]

    written = ok(
        patch(client, f"/api/v1/lead-forms/{body['id']}", {"name": "Contact us", "purposes": read["purposes"]})
    )

    assert written == read | {"name": "Contact us"}
    before = snapshot(cast.org_a)
    errors = field_errors(
        patch(client, f"/api/v1/lead-forms/{body['id']}", {"purposes": [str(kept.pk), str(other.pk)]})
    )
    assert [e["field"] for e in errors] == ["purposes"]
    assert snapshot(cast.org_a) == before


def test_sales_may_read_forms_but_not_change_them_and_read_only_members_see_none(cast):
    form = created(
        api_client(cast, cast.alice), "/api/v1/lead-forms", name="Contact", fields=[{"name": "email", "required": True}]
    )
    sales = warmed(api_client(cast, cast.sam, "write"))
    assert ok(sales.get(f"/api/v1/lead-forms/{form['id']}"))["name"] == "Contact"
    before = snapshot(cast.org_a)
    problem(patch(sales, f"/api/v1/lead-forms/{form['id']}", {"name": "Mine"}), 403)
    problem(sales.delete(f"/api/v1/lead-forms/{form['id']}"), 403)
    problem(post(sales, "/api/v1/lead-forms", {"name": "New", "fields": [{"name": "email"}]}), 403)
    assert snapshot(cast.org_a) == before
    reader = api_client(cast, cast.bob, "read")
    problem(reader.get("/api/v1/lead-forms"), 403)
    problem(reader.get(f"/api/v1/lead-forms/{form['id']}"), 403)


def test_another_organisations_form_is_not_found(cast):
    form = created(
        api_client(cast, cast.alice), "/api/v1/lead-forms", name="Contact", fields=[{"name": "email", "required": True}]
    )
    mallory = api_client(cast, cast.mallory)
    assert ok(mallory.get("/api/v1/lead-forms")) == {"items": [], "next": None}
    problem(mallory.get(f"/api/v1/lead-forms/{form['id']}"), 404)
    problem(patch(mallory, f"/api/v1/lead-forms/{form['id']}", {"name": "Mine"}), 404)
    problem(mallory.delete(f"/api/v1/lead-forms/{form['id']}"), 404)


def test_q_finds_forms_by_a_part_of_their_name(cast):
    client = api_client(cast, cast.alice)
    fair = created(client, "/api/v1/lead-forms", name="Fair 2030", fields=[{"name": "email", "required": True}])
    created(client, "/api/v1/lead-forms", name="Newsletter", fields=[{"name": "email", "required": True}])

    found = ok(client.get("/api/v1/lead-forms", {"q": "fair"}))["items"]

    assert [form["id"] for form in found] == [fair["id"]]
