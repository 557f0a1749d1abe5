"""A person whose processing is restricted: every way of changing their records refuses, not
only the forms' (which go through `update_record`): the board's move, ticking off a task,
merging, an import's update (the last two in test_duplicates and test_imports)."""

import pytest

from custos.core.errors import Conflict
from custos.crm.models import Activity, Contact, Deal, DealStageChange, Stage
from custos.crm.services.activities import activity_complete, activity_create
from custos.crm.services.deals import deal_create, deal_move
from custos.crm.services.people import contact_create
from custos.privacy.services.restriction import subject_lift_restriction, subject_restrict

RESTRICTED = "Processing of this person's data is restricted: it is stored, but cannot be changed."


@pytest.fixture
def anna(cast, as_tenant):
    """Anna's contact, with a deal and a task about her; then her processing is restricted."""
    actor = cast.actor(cast.alice)
    contact = contact_create(actor=actor, data={"first_name": "Anna", "last_name": "Schmidt"})
    deal = deal_create(actor=actor, data={"name": "Crown", "contact": str(contact.pk)})
    task = activity_create(
        actor=actor,
        data={"kind": "task", "title": "Call", "contact": str(contact.pk), "due_at": "2030-01-02T10:00:00+01:00"},
    )
    subject_restrict(actor=actor, subject=contact.subject, inform=False)
    return contact, deal, task


def test_her_deal_stays_in_its_stage(cast, anna):
    contact, deal, _task = anna
    won = Stage.objects.filter(pipeline=deal.pipeline).exclude(pk=deal.stage_id).first()
    with pytest.raises(Conflict, match="restricted"):
        deal_move(actor=cast.actor(cast.alice), deal=deal, stage=won)
    assert Deal.objects.get(pk=deal.pk).stage_id == deal.stage_id
    assert DealStageChange.objects.filter(deal=deal).count() == 1  # its creation only

    subject_lift_restriction(actor=cast.actor(cast.alice), subject=contact.subject)
    assert deal_move(actor=cast.actor(cast.alice), deal=Deal.objects.get(pk=deal.pk), stage=won).stage_id == won.pk


def test_a_task_about_her_is_not_ticked_off(cast, anna):
    _contact, _deal, task = anna
    with pytest.raises(Conflict) as refused:
        activity_complete(actor=cast.actor(cast.alice), activity=task)
    assert str(refused.value.detail) == RESTRICTED
    assert Activity.objects.get(pk=task.pk).done_at is None


def test_her_deal_is_not_moved_by_its_form_either(cast, anna):
    from custos.crm.services.deals import deal_update

    _contact, deal, _task = anna
    won = Stage.objects.filter(pipeline=deal.pipeline).exclude(pk=deal.stage_id).first()
    with pytest.raises(Conflict, match="restricted"):
        deal_update(actor=cast.actor(cast.alice), deal=deal, data={"stage": str(won.pk)})
    assert Deal.objects.get(pk=deal.pk).stage_id == deal.stage_id


def test_nothing_is_logged_on_her_deal(cast, anna):
    """A task added from her deal's page names no contact itself: it is her deal's all the same."""
    _contact, deal, _task = anna
    with pytest.raises(Conflict, match="restricted"):
        activity_create(actor=cast.actor(cast.alice), data={"kind": "note", "title": "Called", "deal": str(deal.pk)})
    assert not Activity.objects.filter(deal=deal).exclude(contact__isnull=False).exists()


def test_her_companies_stay_as_they_are(cast, anna):
    from custos.crm.services.people import affiliation_add, affiliation_remove, company_create

    contact, _deal, _task = anna
    actor = cast.actor(cast.alice)
    company = company_create(actor=actor, data={"name": "Nordwind GmbH"})
    with pytest.raises(Conflict, match="restricted"):
        affiliation_add(actor=actor, contact=contact, data={"company": str(company.pk)})
    assert not contact.affiliations.exists()
    subject_lift_restriction(actor=actor, subject=contact.subject)
    linked = affiliation_add(actor=actor, contact=contact, data={"company": str(company.pk), "role": "Buyer"})
    subject_restrict(actor=actor, subject=contact.subject, inform=False)
    with pytest.raises(Conflict, match="restricted"):
        affiliation_remove(actor=actor, affiliation=linked)
    assert contact.affiliations.count() == 1


def test_nothing_of_hers_is_deleted_but_an_erased_persons_remains_may_go(cast, anna):
    """A restriction is often asked for so that the data is kept (Art. 18(1)(c)): her contact,
    deal and task stay; once a person is erased, what remains of them may be deleted."""
    from custos.crm.services.activities import activity_delete
    from custos.crm.services.deals import deal_delete
    from custos.crm.services.people import contact_delete
    from custos.privacy.services.erasure import subject_erase

    contact, deal, task = anna
    actor = cast.actor(cast.alice)
    for delete in (
        lambda: contact_delete(actor=actor, contact=contact),
        lambda: deal_delete(actor=actor, deal=deal),
        lambda: activity_delete(actor=actor, activity=task),
    ):
        with pytest.raises(Conflict, match="restricted"):
            delete()
    assert (Deal.objects.filter(pk=deal.pk).count(), Activity.objects.filter(pk=task.pk).count()) == (1, 1)

    subject_lift_restriction(actor=actor, subject=contact.subject)
    subject_erase(actor=actor, subject=contact.subject)
    deal_delete(actor=actor, deal=Deal.objects.get(pk=deal.pk))
    assert not Deal.objects.filter(pk=deal.pk).exists()


def test_a_note_on_her_deal_stays_and_so_does_her_company(cast, anna):
    from custos.crm.services.activities import activity_delete
    from custos.crm.services.people import company_create, company_delete, contact_update

    contact, deal, _task = anna
    actor = cast.actor(cast.alice)
    subject_lift_restriction(actor=actor, subject=contact.subject)
    note = activity_create(actor=actor, data={"kind": "note", "title": "Called", "deal": str(deal.pk)})
    company = company_create(actor=actor, data={"name": "Nordwind GmbH"})
    contact_update(actor=actor, contact=contact, data={"company": str(company.pk)})
    subject_restrict(actor=actor, subject=contact.subject, inform=False)

    with pytest.raises(Conflict, match="restricted"):
        activity_delete(actor=actor, activity=note)
    with pytest.raises(Conflict, match="restricted"):
        company_delete(actor=actor, company=company)
    assert Activity.objects.filter(pk=note.pk).exists()
    assert Contact.objects.get(pk=contact.pk).company_id == company.pk


def test_a_note_is_not_moved_onto_her_records(cast, anna):
    from custos.crm.services.activities import activity_update

    contact, deal, _task = anna
    actor = cast.actor(cast.alice)
    other = contact_create(actor=actor, data={"last_name": "Berg"})
    note = activity_create(actor=actor, data={"kind": "note", "title": "Called", "contact": str(other.pk)})
    for moved in ({"contact": str(contact.pk)}, {"contact": "", "deal": str(deal.pk)}):
        with pytest.raises(Conflict, match="restricted"):
            activity_update(actor=actor, activity=Activity.objects.get(pk=note.pk), data=moved)
    stored = Activity.objects.get(pk=note.pk)
    assert (stored.contact_id, stored.deal_id) == (other.pk, None)
