"""`consent=<purpose>` on lists and exports: the database's answer is the ledger's.

`processable(purpose)` asks the database which persons may be processed for a purpose now;
`may_process(subject, purpose)` reads the ledger person by person. For every kind of ledger
(given, withdrawn, a double opt-in waiting or confirmed, expired, restricted, objected) the two
agree, and the contact list, its export and the API filter by it.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.api.tests.helpers import ok, problem
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.privacy.models import ConsentEvent, Subject
from custos.privacy.services.consent import (
    Proof,
    consent_confirm,
    consent_give,
    consent_withdraw,
    may_process,
    processable,
    purpose_create,
)
from custos.privacy.services.restriction import subject_object, subject_restrict
from custos.testing import api_client, web_client

STAFF = Proof(source="staff")
HOUR = timedelta(hours=1)


@pytest.fixture
def ledger(cast, as_tenant):
    """Contacts named after their ledger for the marketing purpose `newsletter`."""
    olive = cast.actor(cast.olive)
    newsletter = purpose_create(
        actor=olive,
        data={"key": "newsletter", "legal_basis": "consent", "names": {"en": "Newsletter"}, "is_marketing": True},
    )
    service = purpose_create(
        actor=olive, data={"key": "service", "legal_basis": "contract", "names": {"en": "Service mail"}}
    )
    people = {
        name: contact_create(actor=olive, data={"last_name": name, "email": f"{name.lower()}@example.org"}).subject
        for name in ("Given", "Withdrawn", "Waiting", "Confirmed", "Regiven", "Expired", "Restricted", "Objected")
    }
    people["Never"] = contact_create(actor=olive, data={"last_name": "Never"}).subject
    for name in ("Given", "Withdrawn", "Regiven", "Restricted", "Objected"):
        consent_give(actor=olive, subject=people[name], purpose=newsletter, proof=STAFF)
    consent_withdraw(actor=olive, subject=people["Withdrawn"], purpose=newsletter, proof=STAFF)
    consent_give(actor=olive, subject=people["Waiting"], purpose=newsletter, proof=STAFF, double_opt_in=True)
    mailed = consent_give(actor=olive, subject=people["Confirmed"], purpose=newsletter, proof=STAFF, double_opt_in=True)
    consent_confirm(actor=olive, secret=mailed.confirmation_secret)
    # Given, then asked again by a form nobody confirmed: still given.
    consent_give(actor=olive, subject=people["Regiven"], purpose=newsletter, proof=STAFF, double_opt_in=True)
    expiring = consent_give(
        actor=olive, subject=people["Expired"], purpose=newsletter, proof=STAFF, expires_at=timezone.now() + HOUR
    )
    # A year on, as it were: the consent's end has passed.
    ConsentEvent.objects.filter(pk=expiring.event.pk).update(expires_at=timezone.now() - HOUR)
    subject_restrict(actor=olive, subject=people["Restricted"], inform=False)
    subject_object(actor=olive, subject=people["Objected"], about="marketing")
    return newsletter, service, people


def _names(queryset):
    return sorted(Contact.objects.filter(subject__in=queryset).values_list("last_name", flat=True))


def test_the_database_and_the_ledger_agree_on_who_may_be_processed(ledger):
    newsletter, service, _people = ledger

    for purpose in (newsletter, service):
        by_database = set(Subject.objects.filter(processable(purpose, path="")).values_list("pk", flat=True))
        by_ledger = {
            subject.pk for subject in Subject.objects.all() if may_process(Subject.objects.get(pk=subject.pk), purpose)
        }
        assert by_database == by_ledger, purpose.key
    assert _names(Subject.objects.filter(processable(newsletter, path=""))) == ["Confirmed", "Given", "Regiven"]
    # Service mail rests on the contract: everyone active, the objection to marketing aside.
    assert "Objected" in _names(Subject.objects.filter(processable(service, path="")))
    assert "Restricted" not in _names(Subject.objects.filter(processable(service, path="")))


def test_the_contact_list_its_export_and_the_api_filter_by_consent(cast, ledger):
    client = api_client(cast, cast.alice)

    listed = ok(client.get("/api/v1/contacts", {"consent": "newsletter", "limit": 50}))
    unknown = problem(client.get("/api/v1/contacts", {"consent": "nothing"}), 422)
    exported = client.get("/api/v1/contacts/export", {"consent": "newsletter"})

    assert sorted(item["last_name"] for item in listed["items"]) == ["Confirmed", "Given", "Regiven"]
    assert [e["field"] for e in unknown["errors"]] == ["consent"]
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + 3
    page = web_client(cast.alice).post("/contacts/", {"consent": "newsletter"}).content.decode()
    assert 'name="consent"' in page and ">Newsletter</option>" in page
    assert "Confirmed" in page and "Withdrawn" not in page and "Objected" not in page


def test_only_a_role_that_may_read_consents_filters_by_them(cast, ledger):
    """Who consented, objected or is restricted is the ledger's to tell, not every contact list's."""
    from custos.accounts.tests.helpers import add_member
    from custos.testing import enable_two_factor

    accountant = add_member(cast, "acc@acme.example", "accountant")
    enable_two_factor(accountant)

    refused = problem(api_client(cast, accountant, "read").get("/api/v1/contacts", {"consent": "newsletter"}), 422)
    page = web_client(accountant).post("/contacts/", {"consent": "newsletter"}).content.decode()

    assert [e["field"] for e in refused["errors"]] == ["consent"]
    assert 'name="consent"' not in page and "Newsletter" not in page
