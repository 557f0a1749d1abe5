"""Retention by the organisation's policies, and legal holds, derived from the declarations.

A policy names a declared retention key ("contact.inactive"): every model declaring that
key is governed by it, reached through its declared subject path; no per-model code.
Records due (created, or last changed, longer ago than the policy's days) are anonymised
like an erasure empties them, or deleted; their copies in derived indexes go with them.
People under an active legal hold, and people already erased, are left alone. A run
works in batches, each in its own transaction, and a second run finds nothing to do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Length
from django.tasks import task
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.db.bulk import among
from custos.core.errors import Conflict, ValidationFailed
from custos.core.lookup import get_or_not_found
from custos.core.personal_data import Declaration, model_field
from custos.core.validation import Cleaner
from custos.privacy.models import LegalHold, RetentionPolicy, RetentionRun, Subject
from custos.privacy.registry import declarations
from custos.privacy.services.erasure import anonymised_values, delete_records, leave_no_trace

logger = logging.getLogger("custos.privacy.retention")

# Records treated in one transaction. More on SQLite, which lets one writer in at a time
# either way: each commit there starts a new FTS5 segment and writes its pages to the WAL. A
# run over 6,000 persons treated 3,500 to 3,900 a second at 1,000 a batch, 4,200 to 7,200 at
# 3,000 (docs/benchmarks.md); a batch still holds the database for a few tenths of a second.
BATCH_SIZE = 3000 if connection.vendor == "sqlite" else 1000
# A run looks at the rows in windows of this many, in key order, and chooses its batches among
# the window's due rows: each step reads a bounded range of the table, however many are due.
PAGE_SIZE = 20 * BATCH_SIZE
POLICY_FIELDS = ("key", "condition", "days", "action", "is_enabled")
# What a policy decides; changing any of them makes earlier previews stale.
TERMS = ("key", "condition", "days", "action")
# The moment each condition counts from; a model without the column is not offered the condition.
DATE_FIELDS = {
    RetentionPolicy.Condition.CREATED: "created_at",
    RetentionPolicy.Condition.INACTIVE: "updated_at",
}
# Besides a change, what keeps a record active: rows pointing at it (a logged call, a booked
# appointment) whose moment is after the cutoff. A future appointment keeps its patient.
ACTIVITY_MOMENTS = (("crm.Activity", "occurred_at"), ("scheduling.Appointment", "starts_at"))
# Conditions counted from the person, so open to every record type that reaches one.
PERSON_CONDITIONS = (RetentionPolicy.Condition.DEAL_LOST, RetentionPolicy.Condition.CONTRACT_END)
NEW_POLICY: dict[str, Any] = {"key": "", "condition": "", "days": None, "action": "", "is_enabled": False}


# What the declarations offer --------------------------------------------------------------


def retention_keys() -> dict[str, tuple[Declaration, ...]]:
    """Every declared retention key and the person-related models it governs."""
    found: dict[str, list[Declaration]] = {}
    for declaration in declarations():
        if declaration.retention and declaration.subject_paths:
            found.setdefault(declaration.retention, []).append(declaration)
    return {key: tuple(found[key]) for key in sorted(found)}


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def conditions_of(key: str) -> list[str]:
    """The conditions every model of the key can be judged by: its own dates where it has the
    column, and the person's lost deals and contract end (every governed model reaches one)."""
    governed = retention_keys().get(key, ())
    if not governed:
        return []
    own = [str(c) for c, column in DATE_FIELDS.items() if all(_has_field(d.model, column) for d in governed)]
    return own + [str(c) for c in PERSON_CONDITIONS]


def _emptied(declaration: Declaration) -> dict[str, Any] | None:
    """The anonymised values of the model's personal fields; None when they cannot all be emptied."""
    try:
        return anonymised_values(declaration)
    except TypeError:
        return None


def actions_of(key: str) -> list[str]:
    """Deleting is always possible; anonymising where there is personal data to empty."""
    governed = retention_keys().get(key, ())
    if not governed:
        return []
    actions = [str(RetentionPolicy.Action.DELETE)]
    if all(d.fields and _emptied(d) is not None for d in governed):
        actions.insert(0, str(RetentionPolicy.Action.ANONYMISE))
    return actions


def record_types(key: str) -> list[str]:
    return [d.model._meta.label for d in retention_keys().get(key, ())]


# Reads ---------------------------------------------------------------------------------------


def retention_policy_list(actor: Actor) -> models.QuerySet[RetentionPolicy]:
    actor.require("retention_policy.view")
    return RetentionPolicy.objects.all()


def access_retention_policy(actor: Actor, policy_id: Any, *, write: bool = False) -> RetentionPolicy:
    """The policy of the actor's organisation; NotFound for missing and foreign alike."""
    actor.require("retention_policy.change" if write else "retention_policy.view")
    return get_or_not_found(RetentionPolicy.objects.all(), pk=policy_id)


def retention_run_list(actor: Actor, policy: RetentionPolicy) -> models.QuerySet[RetentionRun]:
    """The policy's runs (previews left out)."""
    actor.require("retention_policy.view")
    return RetentionRun.objects.filter(policy=policy, is_preview=False)


def legal_hold_list(actor: Actor, *, active_only: bool = False) -> models.QuerySet[LegalHold]:
    actor.require("retention_policy.view")
    holds = LegalHold.objects.all()
    return holds.filter(_active_hold()) if active_only else holds


def access_legal_hold(actor: Actor, hold_id: Any, *, write: bool = False) -> LegalHold:
    actor.require("retention_policy.change" if write else "retention_policy.view")
    return get_or_not_found(LegalHold.objects.all(), pk=hold_id)


def _active_hold() -> Q:
    return Q(released_at__isnull=True) & (Q(until__isnull=True) | Q(until__gte=timezone.localdate()))


def is_hold_active(hold: LegalHold) -> bool:
    return hold.released_at is None and (hold.until is None or hold.until >= timezone.localdate())


def is_previewed(policy: RetentionPolicy) -> bool:
    """Someone who may enable the policy has seen what it does, as it stands now."""
    return RetentionRun.objects.filter(policy=policy, is_preview=True).exists()


# Policies ----------------------------------------------------------------------------------


def _clean(data: Mapping[str, Any], current: Mapping[str, Any], policy: RetentionPolicy | None) -> dict[str, Any]:
    """The policy after the change, checked as a whole; raises with every problem at once."""
    cleaner = Cleaner()
    for name in data:
        if name not in POLICY_FIELDS:
            cleaner.fail(name, _("Unknown field."))
    merged = dict(current) | dict(data)
    keys = retention_keys()
    key = cleaner.choice("key", merged["key"], keys)
    cleaned: dict[str, Any] = {
        "key": key,
        "condition": cleaner.choice(
            "condition", merged["condition"], conditions_of(key) if key else RetentionPolicy.Condition.values
        ),
        "days": cleaner.integer("days", merged["days"], minimum=1, maximum=36500, required=True),
        "action": cleaner.choice("action", merged["action"], actions_of(key) if key else RetentionPolicy.Action.values),
        "is_enabled": merged["is_enabled"],
    }
    if not isinstance(merged["is_enabled"], bool):
        cleaner.fail("is_enabled", _("Use true or false."))
    if key and RetentionPolicy.objects.filter(key=key).exclude(pk=policy.pk if policy else None).exists():
        cleaner.fail("key", _("There is a policy for this record type already; change that one."))
    if cleaner.errors:
        raise ValidationFailed(cleaner.errors)
    return cleaned


def _preview_needed() -> ValidationFailed:
    return ValidationFailed.single(
        "is_enabled", _("Preview the policy first: see how many records it would change, then enable it.")
    )


def retention_policy_create(*, actor: Actor, data: Mapping[str, Any]) -> RetentionPolicy:
    """A new policy starts switched off: it can be enabled once previewed."""
    actor.require("retention_policy.add")
    cleaned = _clean(data, NEW_POLICY, None)
    if cleaned["is_enabled"]:
        raise _preview_needed()
    with transaction.atomic():
        policy = RetentionPolicy.objects.create(**cleaned)
        audit_record(
            actor=actor,
            action="retention_policy.create",
            object_type="retention_policy",
            object_id=policy.pk,
            fields=POLICY_FIELDS,
        )
    return policy


def retention_policy_update(*, actor: Actor, policy: RetentionPolicy, data: Mapping[str, Any]) -> RetentionPolicy:
    """Changing what a policy decides switches it off until it is previewed again."""
    actor.require("retention_policy.change")
    cleaned = _clean(data, {name: getattr(policy, name) for name in POLICY_FIELDS}, policy)
    terms_changed = any(getattr(policy, name) != cleaned[name] for name in TERMS)
    if terms_changed:
        if data.get("is_enabled") is True:
            raise _preview_needed()
        cleaned["is_enabled"] = False
    elif cleaned["is_enabled"] and not policy.is_enabled and not is_previewed(policy):
        raise _preview_needed()
    changed = sorted(name for name, value in cleaned.items() if getattr(policy, name) != value)
    if not changed:
        return policy
    with transaction.atomic():
        for name in changed:
            setattr(policy, name, cleaned[name])
        policy.save(update_fields=changed)
        if terms_changed:
            RetentionRun.objects.filter(policy=policy, is_preview=True).delete()
        audit_record(
            actor=actor,
            action="retention_policy.update",
            object_type="retention_policy",
            object_id=policy.pk,
            fields=changed,
        )
    return policy


def retention_policy_delete(*, actor: Actor, policy: RetentionPolicy) -> None:
    """The policy and its run reports go; the audit log keeps that it ran."""
    actor.require("retention_policy.delete")
    with transaction.atomic():
        policy_id = policy.pk
        policy.delete()
        audit_record(actor=actor, action="retention_policy.delete", object_type="retention_policy", object_id=policy_id)


# Which records are due ----------------------------------------------------------------------


@dataclass(frozen=True)
class RetentionCounts:
    """What a run would do now: records it changes, their people, records kept by legal holds."""

    matched: int = 0
    persons: int = 0
    held: int = 0
    # A delete policy: the records of other types deleted with them (an old appointment goes
    # with its patient's contact), by type label; counted in previews only.
    also_deleted: dict[str, int] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {"matched": self.matched, "persons": self.persons, "held": self.held}


def _empty_condition(declaration: Declaration, queryset: models.QuerySet[Any]) -> tuple[models.QuerySet[Any], Q]:
    """The queryset with what it needs, and a condition true when every personal field is empty.

    Lengths rather than comparisons, so that encrypted columns (which refuse lookups) are
    judged too: an empty value is stored as the empty string, never as ciphertext.
    """
    condition = Q()
    for name in declaration.fields:
        field = model_field(declaration.model, name)
        empty = Q(**{f"{name}__isnull": True}) if field.null else Q(pk__in=[])
        if isinstance(field, models.CharField | models.TextField):
            alias = f"_retention_length_{name}"
            queryset = queryset.alias(**{alias: Length(name)})
            empty |= Q(**{alias: 0})
        elif not field.null and field.has_default():
            empty |= Q(**{name: field.get_default()})
        condition &= empty
    return queryset, condition


def _held_subjects() -> models.QuerySet[LegalHold, dict[str, Any]]:
    return LegalHold.objects.filter(_active_hold()).values("subject_id")


def _kept(declaration: Declaration) -> Q:
    """Records a run leaves alone: of persons under a legal hold, and of persons who restricted
    processing (Art. 18(1)(b), (c): kept, instead of erased, at their request)."""
    restricted = Subject.objects.filter(state=Subject.State.RESTRICTED).values("pk")
    return _of_subjects(declaration, _held_subjects()) | _of_subjects(declaration, restricted)


def _of_subjects(declaration: Declaration, subjects: models.QuerySet[Any]) -> Q:
    linked = Q(pk__in=[])
    for path in declaration.subject_paths:
        linked |= Q(**{f"{path}__in": subjects})
    return linked


def _deal_model() -> type[models.Model]:
    return apps.get_model("crm", "Deal")


def _persons_whose_deals_were_lost(cutoff: dt.datetime) -> models.QuerySet[Any]:
    """People with deals, every one of them lost, the last one before the cutoff."""
    deals = _deal_model()._default_manager.filter(contact__subject__isnull=False)
    lost = deals.filter(status="lost", closed_at__lt=cutoff).values("contact__subject")
    # Open or won deals, and deals lost since the cutoff (or at no known time), keep the person.
    current = deals.exclude(status="lost", closed_at__lt=cutoff).values("contact__subject")
    return Subject.objects.filter(pk__in=lost).exclude(pk__in=current).values("pk")


def _persons_whose_contract_ended(cutoff: dt.date) -> models.QuerySet[Any]:
    """People whose contracts (on their contacts) all ended before the cutoff."""
    contacts = apps.get_model("crm", "Contact")._default_manager.filter(contract_ends_on__isnull=False)
    ended = contacts.filter(contract_ends_on__lt=cutoff).values("subject")
    running = contacts.filter(contract_ends_on__gte=cutoff).values("subject")
    return Subject.objects.filter(pk__in=ended).exclude(pk__in=running).values("pk")


def _condition(declaration: Declaration, policy: RetentionPolicy, now: dt.datetime) -> Q:
    """The policy's condition on the model's rows, before exceptions (erased, anonymised, held)."""
    condition = RetentionPolicy.Condition(policy.condition)
    cutoff = now - dt.timedelta(days=policy.days)
    if condition == RetentionPolicy.Condition.INACTIVE:
        return Q(updated_at__lt=cutoff) & ~_active_since(declaration.model, cutoff)
    if condition in DATE_FIELDS:
        return Q(**{f"{DATE_FIELDS[condition]}__lt": cutoff})
    if condition == RetentionPolicy.Condition.DEAL_LOST:
        if declaration.model is _deal_model():
            return Q(status="lost", closed_at__lt=cutoff)  # a deal counts from its own loss
        return _of_subjects(declaration, _persons_whose_deals_were_lost(cutoff))
    return _of_subjects(declaration, _persons_whose_contract_ended(timezone.localdate(cutoff)))


def _active_since(model: type[models.Model], cutoff: dt.datetime) -> Q:
    """Rows with an activity after the cutoff: one indexed lookup per row (record, moment)."""
    active = Q(pk__in=[])
    for label, moment in ACTIVITY_MOMENTS:
        activity = apps.get_model(label)
        for field in activity._meta.concrete_fields:
            if field.is_relation and field.related_model is model:
                later = activity._default_manager.filter(**{field.name: OuterRef("pk"), f"{moment}__gte": cutoff})
                active |= Q(Exists(later))
    return active


def _due(declaration: Declaration, policy: RetentionPolicy, now: dt.datetime) -> models.QuerySet[Any]:
    """Records past the policy's days that a run has not dealt with yet, held ones included."""
    due = declaration.model._default_manager.filter(_condition(declaration, policy, now))
    # The erasure of the person dealt with these records already.
    due = due.exclude(_of_subjects(declaration, Subject.objects.filter(state=Subject.State.ERASED).values("pk")))
    if policy.action == RetentionPolicy.Action.ANONYMISE:
        due, anonymised = _empty_condition(declaration, due)
        due = due.exclude(anonymised)
    return due


def _processable(declaration: Declaration, policy: RetentionPolicy, now: dt.datetime) -> models.QuerySet[Any]:
    return _due(declaration, policy, now).exclude(_kept(declaration))


def retention_preview(policy: RetentionPolicy, *, cascades: bool = False) -> RetentionCounts:
    """The dry run: how many records a run would change now, of how many people, and how many
    it would leave alone because of a legal hold. Counts only."""
    now = timezone.now()
    matched = held = 0
    persons = Q(pk__in=[])
    also_deleted: dict[str, int] = {}
    for declaration in retention_keys().get(policy.key, ()):
        due = _due(declaration, policy, now)
        held_here = _kept(declaration)
        processable = due.exclude(held_here)
        matched += processable.count()
        held += due.filter(held_here).count()
        for path in declaration.subject_paths:
            persons |= Q(pk__in=processable.values(path))
        if cascades and policy.action == RetentionPolicy.Action.DELETE:
            for label, count in _deleted_with(declaration, processable).items():
                also_deleted[label] = also_deleted.get(label, 0) + count
    return RetentionCounts(
        matched=matched,
        persons=Subject.objects.filter(persons).count() if matched else 0,
        held=held,
        also_deleted=also_deleted,
    )


def _cascades(declaration: Declaration) -> list[models.ForeignObjectRel]:
    """The relations by which deleting the model's rows deletes records of other declared
    types (not governed by the same policy)."""
    declared = {d.model for d in declarations() if not d.copy_of_personal_data and d.retention != declaration.retention}
    return [
        relation
        for relation in declaration.model._meta.related_objects
        if relation.on_delete is models.CASCADE and not relation.many_to_many and relation.related_model in declared
    ]


def _deleted_with(declaration: Declaration, rows: models.QuerySet[Any]) -> dict[str, int]:
    """How many records of other declared types go with these rows, by type."""
    found: dict[str, int] = {}
    for relation in _cascades(declaration):
        other = relation.related_model
        count = other._default_manager.filter(**{f"{relation.field.name}__in": rows.values("pk")}).count()
        if count:
            found[other._meta.label] = found.get(other._meta.label, 0) + count
    return found


def retention_policy_preview(*, actor: Actor, policy: RetentionPolicy) -> RetentionCounts:
    """The preview as staff see it; seen by someone who may enable the policy, it is recorded,
    and only a recorded preview lets the policy be enabled."""
    actor.require("retention_policy.view")
    counts = retention_preview(policy, cascades=True)
    if actor.can("retention_policy.change"):
        now = timezone.now()
        RetentionRun.objects.create(
            policy=policy,
            is_preview=True,
            started_at=now,
            finished_at=now,
            matched=counts.matched,
            held=counts.held,
        )
    return counts


# Runs ----------------------------------------------------------------------------------------


def _copies() -> list[type[models.Model]]:
    """Derived copies of personal values that point at their record by id (the search index)."""
    return [d.model for d in declarations() if d.copy_of_personal_data and _has_field(d.model, "object_id")]


def _remove_copies(declaration: Declaration, ids: Sequence[uuid.UUID], subjects: Sequence[uuid.UUID]) -> None:
    """The records' rows in derived indexes: by record type and id, and by id and person for
    rows filed under another type; indexed lookups, never a scan of the index (two
    statements, not one with OR, which SQLite answers by reading the whole index)."""
    for copy in _copies():
        rows = among(copy._default_manager.all(), ids, "object_id")
        rows.filter(object_type=declaration.model._meta.model_name).delete()
        if _has_field(copy, "subject") and subjects:
            among(rows, subjects, "subject").delete()


def _treat(
    declaration: Declaration, policy: RetentionPolicy, ids: Sequence[uuid.UUID], subjects: Sequence[uuid.UUID]
) -> None:
    _remove_copies(declaration, ids, subjects)
    if policy.action == RetentionPolicy.Action.DELETE:
        delete_records(declaration.model, ids)
    else:
        among(declaration.model._default_manager.all(), ids).update(**(_emptied(declaration) or {}))


def retention_run(*, actor: Actor, policy: RetentionPolicy) -> RetentionRun:
    """Apply the policy now: batch by batch, each in its own transaction, so a long run holds
    no lock for long and an interrupted one is finished by the next. Reported and audited.

    Each batch is the next due records in key order after the last batch, within a window of
    `PAGE_SIZE` rows (one pass over the table in all, a bounded range per statement, and
    memory for one batch only), chosen and treated in one transaction, so that a hold placed
    or an erasure done meanwhile is respected. Without the window the database chose between
    walking the key from the last batch and reading the whole table, and at a million
    contacts read the whole table for every batch."""
    actor.require("retention_policy.change")
    if not policy.is_enabled and not is_previewed(policy):
        raise Conflict(_("Preview the policy first: see how many records it would change, then run it."))
    now = timezone.now()
    run = RetentionRun.objects.create(policy=policy, started_at=now)
    processed = held = 0
    persons: set[Any] = set()
    for declaration in retention_keys().get(policy.key, ()):
        due = _due(declaration, policy, now)
        held += due.filter(_kept(declaration)).count()
        pending = _processable(declaration, policy, now).order_by("pk")
        last = None
        while True:
            end = _window_end(declaration.model, last)  # None: the window reaches the table's end
            while True:
                with transaction.atomic():
                    batch = pending if last is None else pending.filter(pk__gt=last)
                    batch = batch if end is None else batch.filter(pk__lte=end)
                    # One more than the batch: whether another batch follows, without asking again.
                    rows = list(batch.values_list("pk", *declaration.subject_paths)[: BATCH_SIZE + 1])
                    more, rows = len(rows) > BATCH_SIZE, rows[:BATCH_SIZE]
                    subjects = sorted({subject for row in rows for subject in row[1:] if subject is not None})
                    if rows:
                        _treat(declaration, policy, [row[0] for row in rows], subjects)
                processed += len(rows)
                persons.update(subjects)
                if not more:
                    break
                last = rows[-1][0]
            if end is None:
                break
            last = end
    # Every record a batch chose is treated in that batch: matched and processed are one.
    counts = RetentionCounts(matched=processed, persons=len(persons), held=held)
    with transaction.atomic():
        run.matched, run.held, run.processed = counts.matched, counts.held, processed
        run.finished_at = timezone.now()
        run.save(update_fields=["matched", "held", "processed", "finished_at"])
        policy.last_run_at = run.finished_at
        policy.save(update_fields=["last_run_at"])
        audit_record(
            actor=actor,
            action="retention_policy.run",
            object_type="retention_policy",
            object_id=policy.pk,
            extra={"matched": counts.matched, "processed": processed, "persons": counts.persons, "held": counts.held},
        )
    if processed:
        # As after an erasure: no old row versions or index segments keep what was removed.
        governed = retention_keys().get(policy.key, ())
        tables = sorted(
            {d.model._meta.db_table for d in governed}
            | {model._meta.db_table for model in _copies()}
            | {
                relation.related_model._meta.db_table
                for d in governed
                if policy.action == RetentionPolicy.Action.DELETE
                for relation in _cascades(d)
            }
        )
        transaction.on_commit(lambda: leave_no_trace(tables))
    return run


def _window_end(model: type[models.Model], last: Any) -> Any:
    """The key `PAGE_SIZE` rows after `last` (from the start for None), read from the key's
    index alone; None when fewer rows are left."""
    rows = model._default_manager.order_by("pk")
    rows = rows if last is None else rows.filter(pk__gt=last)
    return next(iter(rows.values_list("pk", flat=True)[PAGE_SIZE - 1 : PAGE_SIZE]), None)


@task
def apply_retention_policies() -> int:
    """The daily job: every enabled policy of every organisation; the records it changed."""
    from custos.core.models import Organization
    from custos.core.tenancy import tenant_scope

    total = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            actor = Actor.system(org_id, permissions=frozenset({"retention_policy.change"}))
            for policy in RetentionPolicy.objects.filter(is_enabled=True).order_by("pk"):
                try:
                    total += retention_run(actor=actor, policy=policy).processed
                except Exception:
                    # One policy's failure must not keep the others from running; ids only.
                    logger.exception("retention policy %s of organisation %s failed", policy.pk, org_id)
    return total


# Legal holds ---------------------------------------------------------------------------------


def _hold_subject(cleaner: Cleaner, value: Any) -> Subject | None:
    """The person, by id or by pseudonymous reference."""
    if value in (None, ""):
        cleaner.fail("subject", _("This field is required."))
        return None
    found = None
    if isinstance(value, str):
        found = Subject.objects.filter(reference=value.strip().upper()).first()
        if found is None:
            try:
                found = Subject.objects.filter(pk=uuid.UUID(value.strip())).first()
            except ValueError:
                found = None
    if found is None:
        cleaner.fail("subject", _("Choose an existing person (their id or reference)."))
    elif found.state == Subject.State.ERASED:
        cleaner.fail("subject", _("This person's data is erased already; there is nothing left to hold."))
        return None
    return found


def legal_hold_create(*, actor: Actor, data: Mapping[str, Any]) -> LegalHold:
    """Keep a person's data from erasure and retention until released or until its last day."""
    actor.require("retention_policy.add")
    cleaner = Cleaner()
    for name in data:
        if name not in ("subject", "reason", "until"):
            cleaner.fail(name, _("Unknown field."))
    subject = _hold_subject(cleaner, data.get("subject"))
    reason = cleaner.text("reason", data.get("reason"), max_length=2000, required=True, multiline=True)
    until = cleaner.date("until", data.get("until"))
    if until is not None and until < timezone.localdate():
        cleaner.fail("until", _("Choose today or a later day."))
    if cleaner.errors or subject is None:
        raise ValidationFailed(cleaner.errors)
    with transaction.atomic():
        hold = LegalHold.objects.create(subject=subject, reason=reason, until=until, created_by_id=actor.user_id)
        audit_record(
            actor=actor,
            action="legal_hold.create",
            object_type="legal_hold",
            object_id=hold.pk,
            fields=["reason", "until"] if until else ["reason"],
            extra={"subject": str(subject.pk)},
        )
    return hold


def legal_hold_release(*, actor: Actor, hold: LegalHold) -> LegalHold:
    """End the hold: erasure and retention reach the person again."""
    actor.require("retention_policy.change")
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.released_at is not None:
            raise Conflict(_("This legal hold is released already."))
        hold.released_at = timezone.now()
        hold.save(update_fields=["released_at"])
        audit_record(
            actor=actor,
            action="legal_hold.release",
            object_type="legal_hold",
            object_id=hold.pk,
            extra={"subject": str(hold.subject_id)},
        )
    return hold
