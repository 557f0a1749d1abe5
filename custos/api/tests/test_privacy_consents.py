"""/api/v1/privacy/purposes and /consents: purposes with versions, and the append-only ledger."""

from custos.api.tests.helpers import created, ok, patch, post, problem
from custos.audit.models import AuditEntry
from custos.core.tenancy import tenant_scope
from custos.privacy.models import ConsentEvent, Purpose
from custos.privacy.services.consent import may_process
from custos.testing import api_client

NEWSLETTER = {
    "key": "newsletter",
    "legal_basis": "consent",
    "is_marketing": True,
    "names": {"en": "Newsletter", "de": "Newsletter"},
    "descriptions": {"en": "News about our practice, monthly.", "de": "Neuigkeiten aus der Praxis, monatlich."},
}


def _person(client, email="greta@example.org"):
    return created(client, "/api/v1/contacts", first_name="Greta", last_name="Lind", email=email)["subject"]


def test_a_purpose_is_created_at_version_one(cast):
    client = api_client(cast, cast.alice)

    purpose = created(client, "/api/v1/privacy/purposes", **NEWSLETTER)

    assert purpose["version"] == 1
    assert purpose["names"] == NEWSLETTER["names"]
    assert purpose["legal_basis"] == "consent"
    assert ok(client.get(f"/api/v1/privacy/purposes/{purpose['id']}")) == purpose


def test_new_wording_is_a_new_version_and_old_proof_keeps_its_version(cast):
    client = api_client(cast, cast.alice)
    purpose = created(client, "/api/v1/privacy/purposes", **NEWSLETTER)
    subject = _person(client)
    first = created(client, "/api/v1/privacy/consents", subject=subject, purpose="newsletter", action="given")

    changed = ok(patch(client, f"/api/v1/privacy/purposes/{purpose['id']}", {"names": {"en": "Monthly letter"}}))
    same = ok(patch(client, f"/api/v1/privacy/purposes/{purpose['id']}", {"names": {"en": "Monthly letter"}}))

    assert changed["version"] == 2
    assert same["version"] == 2  # nothing reworded, no new version
    assert first["purpose_version"] == 1
    assert first["text_shown"].startswith("Newsletter")
    second = created(client, "/api/v1/privacy/consents", subject=subject, purpose="newsletter", action="withdrawn")
    assert second["purpose_version"] == 2


def test_bad_purposes_name_their_fields(cast):
    client = api_client(cast, cast.alice)
    created(client, "/api/v1/privacy/purposes", **NEWSLETTER)

    body = problem(
        post(client, "/api/v1/privacy/purposes", {**NEWSLETTER, "legal_basis": "whim", "names": {"xx": "?"}}), 422
    )

    fields = {e["field"] for e in body["errors"]}
    assert {"key", "legal_basis", "names.xx", "names"} <= fields
    with tenant_scope(cast.org_a):
        assert Purpose.objects.count() == 1


def test_the_state_is_derived_from_the_ledger(cast):
    client = api_client(cast, cast.alice)
    created(client, "/api/v1/privacy/purposes", **NEWSLETTER)
    subject = _person(client)

    created(
        client,
        "/api/v1/privacy/consents",
        subject=subject,
        purpose="newsletter",
        action="given",
        source="web_form",
        form="spring-campaign",
        ip="203.0.113.9",
        user_agent="Firefox",
    )
    states = ok(client.get(f"/api/v1/privacy/subjects/{subject}/consents"))
    assert [(s["purpose"], s["status"], s["granted"]) for s in states] == [("newsletter", "given", True)]

    created(client, "/api/v1/privacy/consents", subject=subject, purpose="newsletter", action="withdrawn")
    states = ok(client.get(f"/api/v1/privacy/subjects/{subject}/consents"))
    assert [(s["status"], s["granted"]) for s in states] == [("withdrawn", False)]

    ledger = ok(client.get("/api/v1/privacy/consents", {"subject": subject}))["items"]
    assert [e["action"] for e in ledger] == ["given", "withdrawn"]
    assert ledger[0]["ip"] == "203.0.113.9"
    assert ledger[0]["form"] == "spring-campaign"
    with tenant_scope(cast.org_a):
        actions = list(AuditEntry.objects.filter(object_id=subject).values_list("action", flat=True))
    assert actions.count("consent.given") == 1
    assert actions.count("consent.withdrawn") == 1


def test_withdrawn_marketing_consent_stops_marketing_but_not_contract_mail(cast):
    client = api_client(cast, cast.alice)
    created(client, "/api/v1/privacy/purposes", **NEWSLETTER)
    created(
        client,
        "/api/v1/privacy/purposes",
        key="appointments",
        legal_basis="contract",
        names={"en": "Appointment reminders"},
    )
    subject = _person(client)
    created(client, "/api/v1/privacy/consents", subject=subject, purpose="newsletter", action="given")
    created(client, "/api/v1/privacy/consents", subject=subject, purpose="newsletter", action="withdrawn")

    with tenant_scope(cast.org_a):
        from custos.privacy.models import Subject

        person = Subject.objects.get(pk=subject)
        assert not may_process(person, Purpose.objects.get(key="newsletter"))
        assert may_process(person, Purpose.objects.get(key="appointments"))


def test_double_opt_in_counts_only_once_confirmed(cast):
    from custos.core.actor import Actor
    from custos.privacy.models import Subject
    from custos.privacy.services.consent import Proof, consent_confirm, consent_give, consent_states

    client = api_client(cast, cast.alice)
    created(client, "/api/v1/privacy/purposes", **NEWSLETTER)
    subject_id = _person(client)
    with tenant_scope(cast.org_a):
        subject = Subject.objects.get(pk=subject_id)
        purpose = Purpose.objects.get(key="newsletter")
        system = Actor.system(cast.org_a.pk)
        new = consent_give(
            actor=system, subject=subject, purpose=purpose, proof=Proof(source="web_form"), double_opt_in=True
        )
        assert [s.status for s in consent_states(subject)] == ["pending"]
        assert new.confirmation_secret and new.confirmation_secret not in new.event.confirmation_digest

        consent_confirm(actor=system, secret=new.confirmation_secret)

        assert [s.status for s in consent_states(subject)] == ["given"]
        assert ConsentEvent.objects.get().confirmed_at is not None


def test_bad_consents_change_nothing(cast):
    client = api_client(cast, cast.alice)
    created(client, "/api/v1/privacy/purposes", **NEWSLETTER)
    subject = _person(client)

    bad_action = problem(
        post(
            client,
            "/api/v1/privacy/consents",
            {"subject": subject, "purpose": "newsletter", "action": "maybe", "ip": "999.1.1.1"},
        ),
        422,
    )
    no_purpose = problem(
        post(client, "/api/v1/privacy/consents", {"subject": subject, "purpose": "nope", "action": "given"}), 422
    )
    no_subject = problem(
        post(client, "/api/v1/privacy/consents", {"subject": "x", "purpose": "newsletter", "action": "given"}), 422
    )

    assert {e["field"] for e in bad_action["errors"]} == {"action", "ip"}
    assert [e["field"] for e in no_purpose["errors"]] == ["purpose"]
    assert [e["field"] for e in no_subject["errors"]] == ["subject"]
    with tenant_scope(cast.org_a):
        assert ConsentEvent.objects.count() == 0


def test_sales_may_record_consent_but_not_define_purposes(cast):
    admin = api_client(cast, cast.alice)
    created(admin, "/api/v1/privacy/purposes", **NEWSLETTER)
    sales = api_client(cast, cast.sam, "write")
    subject = _person(sales, "sam.customer@example.org")

    problem(post(sales, "/api/v1/privacy/purposes", {**NEWSLETTER, "key": "other"}), 403)
    event = created(sales, "/api/v1/privacy/consents", subject=subject, purpose="newsletter", action="given")

    assert event["recorded_by"] == str(cast.sam.pk)
