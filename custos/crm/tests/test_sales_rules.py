"""Rules of leads and deals that hold whichever face is used."""

import pytest

from custos.core.actor import Via
from custos.core.errors import ValidationFailed
from custos.crm.models import Company, Deal, DealStageChange, Stage
from custos.crm.services.deals import deal_create, deal_move, deal_update
from custos.crm.services.leads import lead_convert, lead_create
from custos.crm.services.people import company_create


def test_a_lost_deal_keeps_its_reason(cast, as_tenant):
    actor = cast.actor(cast.alice)
    deal = deal_create(actor=actor, data={"name": "Implants"})
    lost = Stage.objects.get(pipeline=deal.pipeline, outcome="lost")
    deal_move(actor=actor, deal=deal, stage=lost, lost_reason="Too expensive")
    with pytest.raises(ValidationFailed) as refused:
        deal_update(actor=actor, deal=deal, data={"lost_reason": ""})
    assert [e.field for e in refused.value.errors] == ["lost_reason"]
    assert Deal.objects.get(pk=deal.pk).lost_reason == "Too expensive"


def test_conversion_does_not_link_a_company_the_converter_cannot_see(cast, as_tenant):
    hidden = company_create(actor=cast.actor(cast.olive), data={"name": "Nordwind GmbH"})
    sam = cast.actor(cast.sam)
    lead = lead_create(actor=sam, data={"last_name": "Lind", "company_name": "nordwind gmbh"})
    conversion = lead_convert(actor=sam, lead=lead, create_deal=False)
    assert conversion.company.pk != hidden.pk
    assert conversion.company.owner_id == cast.sam.pk
    assert Company.objects.filter(name__iexact="nordwind gmbh").count() == 2


def test_a_lead_remembers_how_it_arrived(cast, as_tenant):
    by_api = lead_create(actor=cast.actor(cast.alice, via=Via.API), data={"last_name": "Api"})
    by_hand = lead_create(actor=cast.actor(cast.alice), data={"last_name": "Hand"})
    told = lead_create(actor=cast.actor(cast.alice, via=Via.API), data={"last_name": "Told", "source": "event"})
    assert (by_api.source, by_hand.source, told.source) == ("api", "manual", "event")


def test_a_long_name_makes_a_deal_name_that_fits(cast, as_tenant):
    lead = lead_create(actor=cast.actor(cast.alice), data={"first_name": "A" * 100, "last_name": "B" * 100})
    conversion = lead_convert(actor=cast.actor(cast.alice), lead=lead)
    assert len(conversion.deal.name) == 200


def test_converting_the_lead_of_someone_already_a_contact_joins_their_contact(cast, as_tenant):
    """A patient who fills in the web form again is not made a second contact."""
    from custos.crm.models import Contact
    from custos.crm.services.people import contact_create

    actor = cast.actor(cast.alice)
    ines = contact_create(actor=actor, data={"first_name": "Ines", "last_name": "Vogt", "email": "ines@example.org"})
    lead = lead_create(actor=actor, data={"first_name": "Ines", "last_name": "Vogt", "email": "ines@example.org"})
    assert lead.subject_id == ines.subject_id

    conversion = lead_convert(actor=actor, lead=lead, deal_name="Implant")

    assert conversion.contact.pk == ines.pk
    assert Contact.objects.filter(subject_id=ines.subject_id).count() == 1
    assert conversion.deal.contact_id == ines.pk


@pytest.mark.parametrize("second", ["move", "update"])
def test_a_move_starts_from_where_the_deal_is_now_not_where_it_was_read(cast, as_tenant, second):
    """Two people drag one card at once: the second move read the deal before the first was
    saved. Its status must follow the stage it ends in, and its history the stage it left."""
    actor = cast.actor(cast.alice)
    deal = deal_create(actor=actor, data={"name": "Chairs"})
    stages = {stage.name: stage for stage in deal.pipeline.stages.all()}
    read_before = Deal.objects.get(pk=deal.pk)
    deal_move(actor=actor, deal=Deal.objects.get(pk=deal.pk), stage=stages["Won"])

    if second == "move":
        deal_move(actor=actor, deal=read_before, stage=stages["Negotiation"])
    else:
        deal_update(actor=actor, deal=read_before, data={"stage": str(stages["Negotiation"].pk)})

    stored = Deal.objects.get(pk=deal.pk)
    assert (stored.stage_id, stored.status, stored.closed_at) == (stages["Negotiation"].pk, "open", None)
    history = DealStageChange.objects.filter(deal=deal).order_by("changed_at")
    assert [(c.from_stage_id, c.to_stage_id) for c in history][1:] == [
        (stages["Qualification"].pk, stages["Won"].pk),
        (stages["Won"].pk, stages["Negotiation"].pk),
    ]


def test_a_move_to_where_someone_just_moved_the_deal_is_no_second_move(cast, as_tenant):
    actor = cast.actor(cast.alice)
    deal = deal_create(actor=actor, data={"name": "Chairs"})
    won = Stage.objects.get(pipeline=deal.pipeline, outcome="won")
    read_before = Deal.objects.get(pk=deal.pk)
    deal_move(actor=actor, deal=Deal.objects.get(pk=deal.pk), stage=won)
    closed_at = Deal.objects.get(pk=deal.pk).closed_at

    deal_move(actor=actor, deal=read_before, stage=won)

    assert DealStageChange.objects.filter(deal=deal).count() == 2
    assert (Deal.objects.get(pk=deal.pk).status, Deal.objects.get(pk=deal.pk).closed_at) == ("won", closed_at)


def test_two_first_uses_of_deals_at_once_share_one_default_pipeline(cast):
    """Another request's first use creates the default pipeline between this one's look and
    its insert: this one takes that pipeline rather than failing on the name."""
    from unittest import mock

    from custos.core.tenancy import tenant_scope
    from custos.crm.models import Pipeline
    from custos.crm.services import deals

    creating = deals._default_pipeline_created

    def raced(actor):
        other = creating(actor)  # the other request, committed first
        assert other.is_default
        return creating(actor)  # this one: the same name again

    with tenant_scope(cast.org_a), mock.patch.object(deals, "_default_pipeline_created", raced):
        pipeline = deals.pipeline_default(cast.actor(cast.olive))
        assert list(Pipeline.objects.values_list("pk", flat=True)) == [pipeline.pk]
