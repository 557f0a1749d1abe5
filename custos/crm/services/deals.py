"""Pipelines, their stages, and deals moving through them (every move kept)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict, FieldError, ValidationFailed
from custos.core.validation import Cleaner
from custos.crm.models import Company, Contact, Deal, DealStageChange, Pipeline, Stage
from custos.crm.selectors.records import scoped
from custos.crm.services.custom_fields import clean_custom_values
from custos.crm.services.records import (
    check_field_rights,
    clean_member,
    clean_reference,
    delete_record,
    given_fields,
    insert_record,
    reject_unknown,
    update_record,
)
from custos.privacy.services.restriction import require_processable

DEAL_FIELDS = (
    "name",
    "pipeline",
    "stage",
    "amount",
    "currency",
    "expected_close",
    "lost_reason",
    "owner",
    "company",
    "contact",
    "tags",
    "custom_fields",
    "notes",
)

# What a new organisation's first pipeline looks like; each organisation changes it freely.
# Names are stored in the language of whoever first opens the deals.
DEFAULT_STAGES = (
    (gettext_noop("Qualification"), 20, Stage.Outcome.OPEN),
    (gettext_noop("Proposal"), 50, Stage.Outcome.OPEN),
    (gettext_noop("Negotiation"), 75, Stage.Outcome.OPEN),
    (gettext_noop("Won"), 100, Stage.Outcome.WON),
    (gettext_noop("Lost"), 0, Stage.Outcome.LOST),
)


def pipeline_default(actor: Actor) -> Pipeline:
    """The organisation's default pipeline; the first use of deals creates one."""
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.order_by("position").first()
    if pipeline is not None:
        return pipeline
    try:
        return _default_pipeline_created(actor)
    except IntegrityError:  # another request's first use created it meanwhile
        return Pipeline.objects.get(is_default=True)


def _default_pipeline_created(actor: Actor) -> Pipeline:
    with transaction.atomic():
        pipeline = Pipeline.objects.create(name=_("Sales"), is_default=True)
        for position, (name, probability, outcome) in enumerate(DEFAULT_STAGES):
            Stage.objects.create(
                pipeline=pipeline, name=_(name), position=position, probability=probability, outcome=outcome
            )
        audit_record(
            actor=Actor.system(actor.org_id), action="pipeline.create", object_type="pipeline", object_id=pipeline.pk
        )
    return pipeline


def _clean_stages(cleaner: Cleaner, stages: Any) -> list[dict[str, Any]]:
    if not isinstance(stages, list) or not stages:
        cleaner.fail("stages", _("Give the pipeline at least one stage."))
        return []
    cleaned = []
    for position, stage in enumerate(stages):
        if not isinstance(stage, Mapping):
            cleaner.fail(f"stages.{position}", _("Each stage must be an object."))
            continue
        cleaned.append(
            {
                "name": cleaner.text(f"stages.{position}.name", stage.get("name"), max_length=100, required=True),
                "probability": cleaner.integer(
                    f"stages.{position}.probability", stage.get("probability", 0), minimum=0, maximum=100
                )
                or 0,
                "outcome": cleaner.choice(
                    f"stages.{position}.outcome", stage.get("outcome"), Stage.Outcome.values, default="open"
                ),
                "position": position,
            }
        )
    if cleaned and not any(s["outcome"] == Stage.Outcome.OPEN for s in cleaned):
        cleaner.fail("stages", _("Keep at least one open stage for deals in progress."))
    return cleaned


def pipeline_create(*, actor: Actor, name: str, stages: Sequence[Mapping[str, Any]]) -> Pipeline:
    actor.require("pipeline.add")
    cleaner = Cleaner()
    name = cleaner.text("name", name, max_length=100, required=True)
    cleaned_stages = _clean_stages(cleaner, list(stages))
    if name and Pipeline.objects.filter(name__iexact=name).exists():
        cleaner.fail("name", _("A pipeline with this name already exists."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        pipeline = Pipeline.objects.create(name=name, position=Pipeline.objects.count())
        for stage in cleaned_stages:
            Stage.objects.create(pipeline=pipeline, **stage)
        audit_record(actor=actor, action="pipeline.create", object_type="pipeline", object_id=pipeline.pk)
    return pipeline


def stage_update(
    *, actor: Actor, stage: Stage, name: str, probability: int, outcome: str, position: int | None = None
) -> Stage:
    actor.require("pipeline.change")
    cleaner = Cleaner()
    name = cleaner.text("name", name, max_length=100, required=True)
    checked = cleaner.integer("probability", probability, minimum=0, maximum=100, required=True)
    outcome = cleaner.choice("outcome", outcome, Stage.Outcome.values)
    place = cleaner.integer("position", position, minimum=0, maximum=10_000)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    if outcome != stage.outcome and Deal.objects.filter(stage=stage).exists():
        raise Conflict(_("Deals are in this stage; move them before changing whether it is open, won or lost."))
    others_open = (
        Stage.objects.filter(pipeline_id=stage.pipeline_id, outcome=Stage.Outcome.OPEN).exclude(pk=stage.pk).exists()
    )
    if outcome != Stage.Outcome.OPEN and not others_open:
        raise Conflict(_("Keep at least one open stage for deals in progress."))
    with transaction.atomic():
        stage.name, stage.probability, stage.outcome = name, checked or 0, outcome
        stage.save()
        if place is not None and place != stage.position:
            # Take the new place and close up the others, so that positions stay 0, 1, 2, …
            siblings = list(
                Stage.objects.filter(pipeline_id=stage.pipeline_id).exclude(pk=stage.pk).order_by("position")
            )
            siblings.insert(min(place, len(siblings)), stage)
            for position, sibling in enumerate(siblings):
                if sibling.position != position:
                    sibling.position = position
                    sibling.save(update_fields=["position"])
        audit_record(actor=actor, action="pipeline.stage_change", object_type="stage", object_id=stage.pk)
    return stage


def _resolve_stage(cleaner: Cleaner, actor: Actor, cleaned: dict[str, Any], deal: Deal | None) -> None:
    """Pipeline and stage must agree; a missing stage is the pipeline's first open one."""
    pipeline_id = cleaned.get("pipeline_id") or (deal.pipeline_id if deal else None)
    if pipeline_id is None:
        pipeline_id = pipeline_default(actor).pk
        cleaned["pipeline_id"] = pipeline_id
    stage_id = cleaned.get("stage_id")
    moved_pipeline = deal is not None and "pipeline_id" in cleaned and pipeline_id != deal.pipeline_id
    if stage_id is None and moved_pipeline and deal is not None and deal.status != Deal.Status.OPEN:
        # Its first open stage would silently reopen a won or lost deal (and take it out of the
        # quarter's figures): the new pipeline's stage is to be chosen.
        cleaner.fail("stage", _("A won or lost deal needs its stage in the new pipeline chosen."))
        return
    if stage_id is None and (deal is None or moved_pipeline):
        first_open = (
            Stage.objects.filter(pipeline_id=pipeline_id, outcome=Stage.Outcome.OPEN).order_by("position").first()
        )
        if first_open is None:
            cleaner.fail("stage", _("This pipeline has no open stage."))
            return
        cleaned["stage_id"] = first_open.pk
    elif stage_id is not None and not Stage.objects.filter(pk=stage_id, pipeline_id=pipeline_id).exists():
        cleaner.fail("stage", _("Choose a stage of the deal's pipeline."))


def clean_deal(
    actor: Actor, data: Mapping[str, Any], *, partial: bool, index: int | None = None, record: Deal | None = None
) -> tuple[dict[str, Any], Cleaner]:
    cleaner = Cleaner(index)
    cleaned: dict[str, Any] = {}
    reject_unknown(cleaner, data, DEAL_FIELDS)
    for name in DEAL_FIELDS:
        if partial and name not in data:
            continue
        value = data.get(name)
        match name:
            case "name":
                cleaned[name] = cleaner.text(name, value, max_length=200, required=True)
            case "pipeline":
                if value not in (None, ""):
                    cleaned["pipeline_id"] = clean_reference(
                        cleaner, name, value, Pipeline.objects.all(), _("Choose an existing pipeline.")
                    )
            case "stage":
                if value not in (None, ""):
                    cleaned["stage_id"] = clean_reference(
                        cleaner, name, value, Stage.objects.all(), _("Choose an existing stage.")
                    )
            case "amount":
                cleaned[name] = cleaner.money(name, value)
            case "currency":
                # Left empty on a change, the deal keeps its currency: a new one without
                # converting the amount would be a different sum.
                cleaned[name] = cleaner.currency(name, value, default=record.currency if record else "EUR")
            case "expected_close":
                cleaned[name] = cleaner.date(name, value)
            case "lost_reason":
                cleaned[name] = cleaner.text(name, value, max_length=500)
            case "owner":
                cleaned["owner_id"] = (
                    clean_member(cleaner, actor, "owner", value) if value is not None or partial else actor.user_id
                )
            case "company":
                cleaned["company_id"] = clean_reference(
                    cleaner, name, value, scoped(actor, Company.objects.all()), _("Choose an existing company.")
                )
            case "contact":
                cleaned["contact_id"] = clean_reference(
                    cleaner, name, value, scoped(actor, Contact.objects.all()), _("Choose an existing contact.")
                )
            case "tags":
                cleaned[name] = cleaner.tags(name, value)
            case "custom_fields":
                cleaned |= clean_custom_values(cleaner, actor, "deal", value, record)
            case "notes":
                cleaned[name] = cleaner.text(name, value, max_length=20000, multiline=True)
    return cleaned, cleaner


def _status_in(stage: Stage) -> str:
    """A won or lost stage closes the deal."""
    return {Stage.Outcome.WON: Deal.Status.WON, Stage.Outcome.LOST: Deal.Status.LOST}.get(
        Stage.Outcome(stage.outcome), Deal.Status.OPEN
    )


def _check_outcome(cleaner: Cleaner, stage: Stage, lost_reason: str) -> None:
    if _status_in(stage) == Deal.Status.LOST and not lost_reason:
        cleaner.fail("lost_reason", _("Say why the deal was lost."))


def _check_reason_given(cleaner: Cleaner, stage: Stage, given: str | None) -> None:
    """A reason for the loss given for a deal that is not lost: kept, it would let a later move
    to "lost" pass without one."""
    if given and _status_in(stage) != Deal.Status.LOST:
        cleaner.fail("lost_reason", _("Only a lost deal has a reason for the loss."))


def deal_create(*, actor: Actor, data: Mapping[str, Any]) -> Deal:
    actor.require("deal.add")
    check_field_rights(actor, "deal", given_fields(data))
    cleaned, cleaner = clean_deal(actor, data, partial=False)
    if not cleaner.errors:
        _resolve_stage(cleaner, actor, cleaned, None)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    deal = Deal(**cleaned)
    stage = Stage.objects.get(pk=deal.stage_id)
    _check_reason_given(cleaner, stage, deal.lost_reason)
    _check_outcome(cleaner, stage, deal.lost_reason)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    deal.status = _status_in(stage)
    deal.closed_at = timezone.now() if deal.status != Deal.Status.OPEN else None
    with transaction.atomic():
        insert_record(actor, deal, "deal", cleaned)
        DealStageChange.objects.create(
            deal=deal, from_stage=None, to_stage_id=deal.stage_id, actor_user_id=actor.user_id
        )
    return deal


def deal_update(*, actor: Actor, deal: Deal, data: Mapping[str, Any]) -> Deal:
    """Change fields; a change of stage is a move, kept in the deal's history."""
    actor.require("deal.change")
    check_field_rights(actor, "deal", data.keys())
    cleaned, cleaner = clean_deal(actor, data, partial=True, record=deal)
    if not cleaner.errors:
        _resolve_stage(cleaner, actor, cleaned, deal)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    new_stage = Stage.objects.get(pk=cleaned.pop("stage_id", deal.stage_id))
    _check_reason_given(cleaner, new_stage, cleaned.get("lost_reason"))
    _check_outcome(cleaner, new_stage, cleaned.get("lost_reason", deal.lost_reason))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        update_record(actor, deal, "deal", cleaned)
        if new_stage.pk != deal.stage_id:
            _move(actor, deal, new_stage)
    return deal


def deal_move(*, actor: Actor, deal: Deal, stage: Stage, lost_reason: str = "") -> Deal:
    """Move a deal to another stage of its pipeline (the board's drag and drop)."""
    actor.require("deal.change")
    # A move writes the stage (and the reason given): a role must see them, as for a change.
    check_field_rights(actor, "deal", ["stage", *(["lost_reason"] if lost_reason else [])])
    if stage.pipeline_id != deal.pipeline_id:
        raise ValidationFailed([FieldError("stage", _("Choose a stage of the deal's pipeline."))])
    if stage.pk == deal.stage_id:
        return deal
    cleaner = Cleaner()
    reason = cleaner.text("lost_reason", lost_reason, max_length=500) if lost_reason else deal.lost_reason
    _check_outcome(cleaner, stage, reason)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        deal.lost_reason = reason
        _move(actor, deal, stage)
    return deal


def _move(actor: Actor, deal: Deal, stage: Stage) -> None:
    """Put the deal into a stage already checked; its status and closing time follow. Every
    move comes here (the board, the form, the API): a restricted person's deal stays put."""
    require_processable(deal)
    # Where the deal is now, read under a lock: a move saved since the deal was read (a colleague
    # dragging the same card) is where this one starts, and its status what this one changes.
    previous, deal.status, deal.closed_at, stored_reason = (
        Deal.objects.select_for_update()
        .filter(pk=deal.pk)
        .values_list("stage_id", "status", "closed_at", "lost_reason")
        .get()
    )
    if previous == stage.pk:
        deal.stage, deal.lost_reason = stage, stored_reason  # moved there meanwhile: no second move
        return
    status = _status_in(stage)
    changed = ["stage", "lost_reason"]
    if status != deal.status:
        deal.status = status
        deal.closed_at = timezone.now() if status != Deal.Status.OPEN else None
        changed += ["status", "closed_at"]
    if status != Deal.Status.LOST:
        deal.lost_reason = ""  # a reopened or won deal was not lost
    deal.stage = stage
    deal.updated_at = timezone.now()
    deal.save(update_fields=[*changed, "updated_at"])
    DealStageChange.objects.create(deal=deal, from_stage_id=previous, to_stage=stage, actor_user_id=actor.user_id)
    audit_record(
        actor=actor,
        action="deal.move",
        object_type="deal",
        object_id=deal.pk,
        fields=changed,
        extra={"from": str(previous), "to": str(stage.pk), "status": deal.status},
    )


def deal_delete(*, actor: Actor, deal: Deal) -> None:
    delete_record(actor, deal, "deal")


def stage_create(*, actor: Actor, pipeline: Pipeline, name: str, probability: int, outcome: str) -> Stage:
    """A new stage at the end of the pipeline (move it with stage_update)."""
    actor.require("pipeline.change")
    cleaner = Cleaner()
    name = cleaner.text("name", name, max_length=100, required=True)
    checked = cleaner.integer("probability", probability, minimum=0, maximum=100)
    outcome = cleaner.choice("outcome", outcome, Stage.Outcome.values, default=Stage.Outcome.OPEN)
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        stage = Stage.objects.create(
            pipeline=pipeline,
            name=name,
            probability=checked or 0,
            outcome=outcome,
            position=Stage.objects.filter(pipeline=pipeline).count(),
        )
        audit_record(actor=actor, action="pipeline.stage_add", object_type="stage", object_id=stage.pk)
    return stage


def stage_delete(*, actor: Actor, stage: Stage) -> None:
    """Remove an empty stage; the pipeline keeps at least one open stage."""
    actor.require("pipeline.change")
    if Deal.objects.filter(stage=stage).exists():
        raise Conflict(_("Deals are in this stage; move them first."))
    open_left = (
        Stage.objects.filter(pipeline_id=stage.pipeline_id, outcome=Stage.Outcome.OPEN).exclude(pk=stage.pk).exists()
    )
    if not open_left:
        raise Conflict(_("Keep at least one open stage for deals in progress."))
    with transaction.atomic():
        pipeline_id = stage.pipeline_id
        audit_record(actor=actor, action="pipeline.stage_delete", object_type="stage", object_id=stage.pk)
        stage.delete()
        for position, sibling in enumerate(Stage.objects.filter(pipeline_id=pipeline_id).order_by("position")):
            if sibling.position != position:
                sibling.position = position
                sibling.save(update_fields=["position"])


def pipeline_update(*, actor: Actor, pipeline: Pipeline, name: str, is_default: bool | None = None) -> Pipeline:
    actor.require("pipeline.change")
    cleaner = Cleaner()
    name = cleaner.text("name", name, max_length=100, required=True)
    if name and Pipeline.objects.filter(name__iexact=name).exclude(pk=pipeline.pk).exists():
        cleaner.fail("name", _("A pipeline with this name already exists."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        pipeline.name = name
        if is_default:
            Pipeline.objects.exclude(pk=pipeline.pk).update(is_default=False)
            pipeline.is_default = True
        pipeline.save()
        audit_record(actor=actor, action="pipeline.change", object_type="pipeline", object_id=pipeline.pk)
    return pipeline


def pipeline_delete(*, actor: Actor, pipeline: Pipeline) -> None:
    """Remove a pipeline without deals; another one becomes the default if it was."""
    actor.require("pipeline.delete")
    if Deal.objects.filter(pipeline=pipeline).exists():
        raise Conflict(_("Deals are in this pipeline; move or delete them first."))
    with transaction.atomic():
        audit_record(actor=actor, action="pipeline.delete", object_type="pipeline", object_id=pipeline.pk)
        was_default = pipeline.is_default
        pipeline.delete()
        if was_default:
            successor = Pipeline.objects.order_by("position", "name").first()
            if successor is not None:
                successor.is_default = True
                successor.save(update_fields=["is_default"])
