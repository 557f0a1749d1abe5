"""Special-category data (Art. 9): only for roles allowed to see it, and every read is logged."""

from custos.accounts.tests.helpers import add_member, audit_entries, html_text
from custos.core.tenancy import tenant_scope
from custos.crm.services.people import contact_create
from custos.testing import api_client, web_client

HEALTH = "Penicillin allergy; pacemaker since 2019."


def _patient(cast, owner=None):
    with tenant_scope(cast.org_a):
        return contact_create(
            actor=cast.actor(cast.olive),
            data={"last_name": "Nowak", "health_notes": HEALTH, "owner": str((owner or cast.sam).pk)},
        )


def test_a_role_with_special_category_view_reads_health_notes_and_each_read_is_logged(cast):
    contact = _patient(cast)
    client = api_client(cast, cast.alice, "read")
    for _ in range(2):
        response = client.get(f"/api/v1/contacts/{contact.pk}?include=special")
        assert response.status_code == 200
        assert response.json()["health_notes"] == HEALTH
    reads = audit_entries(cast.org_a, "contact.read_special")
    assert [(e.object_id, e.fields, e.actor_user_id) for e in reads] == [
        (str(contact.pk), ["health_notes"], cast.alice.pk)
    ] * 2
    assert all(HEALTH not in str(e.extra) for e in reads)


def test_the_privacy_officer_reads_health_notes(cast):
    officer = add_member(cast, "pia@acme.example", "privacy_officer")
    contact = _patient(cast)
    response = api_client(cast, officer, "read").get(f"/api/v1/contacts/{contact.pk}?include=special")
    assert response.json()["health_notes"] == HEALTH
    assert len(audit_entries(cast.org_a, "contact.read_special")) == 1


def test_a_role_without_special_category_view_gets_null_and_no_read_is_logged(cast):
    contact = _patient(cast)
    for user in (cast.sam, cast.bob):
        client = api_client(cast, user, "read")
        response = client.get(f"/api/v1/contacts/{contact.pk}")
        assert response.status_code == 200, user
        assert response.json()["health_notes"] is None, user
        assert client.get(f"/api/v1/contacts/{contact.pk}?include=special").status_code == 403, user
    assert audit_entries(cast.org_a, "contact.read_special") == []


def test_without_asking_even_an_allowed_role_gets_null_and_nothing_is_logged(cast):
    contact = _patient(cast)
    response = api_client(cast, cast.alice, "read").get(f"/api/v1/contacts/{contact.pk}")
    assert response.json()["health_notes"] is None
    assert audit_entries(cast.org_a, "contact.read_special") == []


def test_the_contact_list_never_carries_health_notes(cast):
    _patient(cast)
    (item,) = api_client(cast, cast.alice, "read").get("/api/v1/contacts").json()["items"]
    assert item["health_notes"] is None
    assert audit_entries(cast.org_a, "contact.read_special") == []


def test_a_role_without_special_category_change_cannot_write_health_notes(cast):
    contact = _patient(cast)
    client = api_client(cast, cast.sam, "write")
    response = client.patch(
        f"/api/v1/contacts/{contact.pk}", {"health_notes": "nothing"}, content_type="application/json"
    )
    assert response.status_code == 403
    reread = api_client(cast, cast.alice, "read").get(f"/api/v1/contacts/{contact.pk}?include=special")
    assert reread.json()["health_notes"] == HEALTH


def test_on_the_contact_page_health_notes_appear_only_when_opened_and_each_opening_is_logged(cast):
    contact = _patient(cast)
    admin = web_client(cast.alice)
    closed = admin.get(f"/contacts/{contact.pk}/")
    assert HEALTH not in html_text(closed)
    assert audit_entries(cast.org_a, "contact.read_special") == []
    opened = admin.get(f"/contacts/{contact.pk}/?reveal=special")
    assert "Penicillin allergy; pacemaker since 2019." in html_text(opened)
    assert len(audit_entries(cast.org_a, "contact.read_special")) == 1


def test_sales_never_sees_health_notes_on_the_contact_page(cast):
    contact = _patient(cast)
    page = web_client(cast.sam).get(f"/contacts/{contact.pk}/?reveal=special")
    assert page.status_code == 200
    assert "Penicillin" not in html_text(page)
    assert audit_entries(cast.org_a, "contact.read_special") == []
