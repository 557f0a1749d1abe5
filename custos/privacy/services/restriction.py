"""Restriction (Art. 18) and objection (Art. 21): the person's records are kept but not used."""

from __future__ import annotations

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.errors import Conflict
from custos.privacy.models import RecipientNotice, Subject
from custos.privacy.registry import declaration_of
from custos.privacy.services.hooks import processing_changed
from custos.privacy.services.processors import recipients_prepare, recipients_schedule
from custos.privacy.services.suppression import suppress_subject


def subject_restrict(*, actor: Actor, subject: Subject, inform: bool = True) -> Subject:
    """From now on the person's records may be stored, not processed: read-only, and out of
    mailings, automation, scoring and exports (enforced where those happen, by subject state).

    The recipients are told (Art. 19) unless `inform` is False: a restriction request's
    completion tells them itself, so that its result records whom."""
    actor.require("subject.change")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        if subject.state == Subject.State.ERASED:
            raise Conflict(_("This person's data has been erased."))
        if subject.state != Subject.State.RESTRICTED:
            notice = recipients_prepare(kind=RecipientNotice.Kind.RESTRICTION, subject=subject) if inform else None
            subject.state = Subject.State.RESTRICTED
            subject.restricted_at = timezone.now()
            subject.save(update_fields=["state", "restricted_at"])
            audit_record(actor=actor, action="subject.restrict", object_type="subject", object_id=subject.pk)
            processing_changed(subject)
            if notice is not None:
                recipients_schedule(prepared=notice)
    return subject


def subject_lift_restriction(*, actor: Actor, subject: Subject) -> Subject:
    """The person's records may be processed again; the recipients told of the restriction
    were asked to hold the data until told otherwise, so they are told (Art. 19)."""
    actor.require("subject.change")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        if subject.state == Subject.State.RESTRICTED:
            notice = recipients_prepare(kind=RecipientNotice.Kind.RESTRICTION_LIFTED, subject=subject)
            subject.state = Subject.State.ACTIVE
            subject.restricted_at = None
            subject.save(update_fields=["state", "restricted_at"])
            audit_record(actor=actor, action="subject.lift_restriction", object_type="subject", object_id=subject.pk)
            processing_changed(subject)
            if notice is not None:
                recipients_schedule(prepared=notice)
    return subject


def subject_object(*, actor: Actor, subject: Subject, about: str) -> Subject:
    """Objection to direct marketing (suppression list) or to profiling (no more scores)."""
    actor.require("subject.change")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        now = timezone.now()
        if about == "profiling":
            subject.objected_to_profiling_at = subject.objected_to_profiling_at or now
        else:
            subject.objected_to_marketing_at = subject.objected_to_marketing_at or now
            suppress_subject(subject, reason="objection")
        subject.save(update_fields=["objected_to_marketing_at", "objected_to_profiling_at"])
        audit_record(
            actor=actor, action="subject.object", object_type="subject", object_id=subject.pk, extra={"about": about}
        )
        processing_changed(subject)
    return subject


def is_restricted(subject: Subject | None) -> bool:
    return subject is not None and subject.state != Subject.State.ACTIVE


def _belonging_to(model: type[models.Model], states: list[str]) -> Q | None:
    """Rows of the model whose person is in one of these states, through its declaration."""
    try:
        paths = declaration_of(model).subject_paths
    except LookupError:
        return None
    if not paths:
        return None
    condition = Q()
    for path in paths:
        condition |= Q(**{f"{path}__state__in": states})
    return condition


NOT_ACTIVE: list[str] = [Subject.State.RESTRICTED, Subject.State.ERASED]
# Why a change to a person's record is refused, wherever it is asked for.
ERASED = gettext_lazy("This person's data has been erased.")
RESTRICTED = gettext_lazy("Processing of this person's data is restricted: it is stored, but cannot be changed.")


def _states_of(record: models.Model) -> set[str]:
    """The states other than active of the people the record belongs to (through its declaration)."""
    condition = _belonging_to(type(record), NOT_ACTIVE)
    if condition is None or record.pk is None:
        return set()
    rows = (
        type(record)
        ._default_manager.filter(pk=record.pk)
        .filter(condition)
        .values_list(*[f"{p}__state" for p in declaration_of(type(record)).subject_paths])
    )
    return {state for row in rows for state in row if state in NOT_ACTIVE}


def require_processable(record: models.Model, *, removing: bool = False) -> None:
    """The shared action layer's check: a restricted person's records are stored, not changed
    nor deleted (a restriction is often asked for so that they are kept), and an erased
    person's remains stay empty (`removing`: they may go)."""
    states = _states_of(record)
    for state in (Subject.State.ERASED, Subject.State.RESTRICTED):
        if state in states and (refused := refusal(state, removing=removing)):
            raise Conflict(refused)


def processing_state(record: models.Model) -> str | None:
    """What a record's page says of its person before anyone tries a change the action layer
    refuses: "restricted" or "erased", else None."""
    states = _states_of(record)
    return next((state for state in (Subject.State.RESTRICTED, Subject.State.ERASED) if state in states), None)


def refusal(state: str | None, *, removing: bool = False) -> str:
    """Why a record of a person in this state may not be changed ("" if it may): where the
    state is read already (an import's batch), without asking the database again."""
    if state == Subject.State.ERASED and not removing:
        return str(ERASED)
    return str(RESTRICTED) if state == Subject.State.RESTRICTED else ""


def without_restricted[M: models.Model](queryset: models.QuerySet[M]) -> models.QuerySet[M]:
    """Leave out the records of restricted and erased persons (exports, mailings, automation)."""
    condition = _belonging_to(queryset.model, NOT_ACTIVE)
    return queryset if condition is None else queryset.exclude(condition)
