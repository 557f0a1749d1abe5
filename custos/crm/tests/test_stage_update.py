"""stage_update: every value it writes is checked first, so bad input is an error, not a crash."""

import pytest

from custos.core.errors import FieldError, ValidationFailed
from custos.crm.models import Stage
from custos.crm.services.deals import pipeline_default, stage_update


@pytest.mark.parametrize("position", [-1, 10_001, "first"])
def test_a_position_out_of_range_is_a_field_error_and_changes_nothing(cast, as_tenant, position):
    actor = cast.actor(cast.alice)
    stage = pipeline_default(actor).stages.order_by("position").first()

    with pytest.raises(ValidationFailed) as failed:
        stage_update(actor=actor, stage=stage, name="Renamed", probability=30, outcome="open", position=position)

    assert [e.field for e in failed.value.errors] == ["position"]
    assert isinstance(failed.value.errors[0], FieldError)
    stored = Stage.objects.get(pk=stage.pk)
    assert (stored.name, stored.position) == ("Qualification", 0)


def test_a_stage_moves_and_the_others_close_up(cast, as_tenant):
    actor = cast.actor(cast.alice)
    pipeline = pipeline_default(actor)
    stage = pipeline.stages.order_by("position").first()

    stage_update(actor=actor, stage=stage, name="Qualification", probability=20, outcome="open", position=9)

    names = list(pipeline.stages.order_by("position").values_list("name", "position"))
    assert names == [("Proposal", 0), ("Negotiation", 1), ("Won", 2), ("Lost", 3), ("Qualification", 4)]


def test_the_last_open_stage_cannot_become_won_or_lost(cast, as_tenant):
    import pytest

    from custos.core.errors import Conflict
    from custos.crm.services.deals import pipeline_create

    actor = cast.actor(cast.alice)
    pipeline = pipeline_create(
        actor=actor, name="Short", stages=[{"name": "Open", "outcome": "open"}, {"name": "Won", "outcome": "won"}]
    )
    only_open = pipeline.stages.get(outcome="open")
    with pytest.raises(Conflict):
        stage_update(actor=actor, stage=only_open, name="Open", probability=10, outcome="won")


def test_stages_are_added_and_removed_and_pipelines_renamed_and_deleted(cast, as_tenant):
    import pytest

    from custos.core.errors import Conflict
    from custos.crm.models import Pipeline
    from custos.crm.services.deals import (
        deal_create,
        pipeline_create,
        pipeline_delete,
        pipeline_update,
        stage_create,
        stage_delete,
    )

    actor = cast.actor(cast.alice)
    default = pipeline_default(actor)
    added = stage_create(actor=actor, pipeline=default, name="Contract sent", probability=90, outcome="open")
    assert added.position == 5
    deal = deal_create(actor=actor, data={"name": "Busy", "stage": str(added.pk)})
    with pytest.raises(Conflict):
        stage_delete(actor=actor, stage=added)
    deal.delete()
    stage_delete(actor=actor, stage=Stage.objects.get(pipeline=default, position=0))
    assert list(default.stages.order_by("position").values_list("position", flat=True)) == [0, 1, 2, 3, 4]

    other = pipeline_create(actor=actor, name="Recalls", stages=[{"name": "Due"}, {"name": "Booked", "outcome": "won"}])
    pipeline_update(actor=actor, pipeline=other, name="Check-up recalls", is_default=True)
    assert Pipeline.objects.get(is_default=True).name == "Check-up recalls"
    pipeline_delete(actor=actor, pipeline=other)
    assert Pipeline.objects.get(is_default=True).pk == default.pk
