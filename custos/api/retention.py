"""/privacy/retention-policies and /privacy/legal-holds: how long records are kept, and who is held."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictBool, StrictInt

from custos.api.rendering import actor_of, moment, reference
from custos.core.pagination import paginate
from custos.privacy.models import LegalHold, RetentionPolicy, RetentionRun
from custos.privacy.services import retention as services

router = Router(tags=["privacy"])


class RetentionPolicyIn(Schema):
    model_config = ConfigDict(extra="forbid")

    key: str | None = Field(
        None, description="Required: a declared retention key, e.g. contact.inactive or lead.inactive."
    )
    condition: str | None = Field(
        None,
        description=(
            "Required: created (time since creation), inactive (time since the last change), deal_lost "
            "(time since the person's deals were lost: none open or won, counted from the last loss; a deal "
            "itself counts from its own loss) or contract_end (time since the latest contract end date on "
            "the person's contacts)."
        ),
    )
    days: StrictInt | None = Field(None, description="Required: after how many days a record is due (1 to 36500).")
    action: str | None = Field(None, description="Required: anonymise or delete.")
    is_enabled: StrictBool | None = Field(
        None,
        description=(
            "The daily job applies enabled policies only. A policy can be enabled once previewed; "
            "changing key, condition, days or action switches it off until it is previewed again."
        ),
    )


class RetentionPolicyOut(Schema):
    id: str
    key: str
    record_types: list[str] = Field(description="The models the key governs, e.g. crm.Contact.")
    condition: str
    days: int
    action: str
    is_enabled: bool
    is_previewed: bool = Field(description="Previewed as it stands: it may be enabled or run.")
    created_at: datetime
    last_run_at: datetime | None


class RetentionPolicyPage(Schema):
    items: list[RetentionPolicyOut]
    next: str | None


class RetentionPreviewOut(Schema):
    matched: int = Field(description="Records a run would anonymise or delete now.")
    persons: int = Field(description="The people those records belong to.")
    held: int = Field(
        description="Records due but kept: their person is under a legal hold or restricted processing (Art. 18)."
    )
    also_deleted: dict[str, int] = Field(
        description="A delete policy: records of other types deleted with them (such as a contact's "
        "appointments), by type."
    )


class RetentionRunOut(Schema):
    id: str
    policy: str
    started_at: datetime
    finished_at: datetime | None
    matched: int
    processed: int
    held: int


class RetentionRunPage(Schema):
    items: list[RetentionRunOut]
    next: str | None


class LegalHoldIn(Schema):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, description="Required: the person's subject id or reference (S-…).")
    reason: str | None = Field(None, description="Required: why the data must be kept (a case, an order).")
    until: str | None = Field(None, description="Last day of the hold, e.g. 2027-06-30; until released when null.")


class LegalHoldOut(Schema):
    id: str
    subject: str
    reason: str
    until: date | None
    created_at: datetime
    created_by: str | None
    released_at: datetime | None
    is_active: bool


class LegalHoldPage(Schema):
    items: list[LegalHoldOut]
    next: str | None


def policy_out(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "id": str(policy.pk),
        "key": policy.key,
        "record_types": services.record_types(policy.key),
        "condition": policy.condition,
        "days": policy.days,
        "action": policy.action,
        "is_enabled": policy.is_enabled,
        "is_previewed": services.is_previewed(policy),
        "created_at": moment(policy.created_at),
        "last_run_at": moment(policy.last_run_at),
    }


def run_out(run: RetentionRun) -> dict[str, Any]:
    return {
        "id": str(run.pk),
        "policy": str(run.policy_id),
        "started_at": moment(run.started_at),
        "finished_at": moment(run.finished_at),
        "matched": run.matched,
        "processed": run.processed,
        "held": run.held,
    }


def hold_out(hold: LegalHold) -> dict[str, Any]:
    return {
        "id": str(hold.pk),
        "subject": str(hold.subject_id),
        "reason": hold.reason,
        "until": hold.until,
        "created_at": moment(hold.created_at),
        "created_by": reference(hold.created_by_id),
        "released_at": moment(hold.released_at),
        "is_active": services.is_hold_active(hold),
    }


# Retention policies -----------------------------------------------------------------------


@router.get("/retention-policies", response=RetentionPolicyPage, summary="List retention policies")
def list_retention_policies(
    request: HttpRequest, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    rows, next_cursor = paginate(services.retention_policy_list(actor_of(request)), cursor=cursor, limit=limit)
    return {"items": [policy_out(policy) for policy in rows], "next": next_cursor}


@router.post("/retention-policies", response={201: RetentionPolicyOut}, summary="Create a retention policy")
def create_retention_policy(request: HttpRequest, payload: RetentionPolicyIn) -> Status[dict[str, Any]]:
    """A new policy is switched off: preview it, then enable it. One policy per key."""
    actor = actor_of(request)
    policy = services.retention_policy_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, policy_out(policy))


@router.get("/retention-policies/{retention_policy_id}", response=RetentionPolicyOut, summary="Get a retention policy")
def get_retention_policy(request: HttpRequest, retention_policy_id: str) -> dict[str, Any]:
    return policy_out(services.access_retention_policy(actor_of(request), retention_policy_id))


@router.patch(
    "/retention-policies/{retention_policy_id}", response=RetentionPolicyOut, summary="Change a retention policy"
)
def update_retention_policy(
    request: HttpRequest, retention_policy_id: str, payload: RetentionPolicyIn
) -> dict[str, Any]:
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id, write=True)
    policy = services.retention_policy_update(actor=actor, policy=policy, data=payload.model_dump(exclude_unset=True))
    return policy_out(policy)


@router.delete("/retention-policies/{retention_policy_id}", response={204: None}, summary="Delete a retention policy")
def delete_retention_policy(request: HttpRequest, retention_policy_id: str) -> HttpResponse:
    actor = actor_of(request)
    actor.require("retention_policy.delete")
    services.retention_policy_delete(actor=actor, policy=services.access_retention_policy(actor, retention_policy_id))
    return HttpResponse(status=204)


@router.get(
    "/retention-policies/{retention_policy_id}/preview",
    response=RetentionPreviewOut,
    summary="Preview what a retention policy would do now",
)
def preview_retention_policy(request: HttpRequest, retention_policy_id: str) -> dict[str, Any]:
    """Counts only. Seen with the right to change the policy, the preview is recorded, and the
    policy may then be enabled or run."""
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id)
    counts = services.retention_policy_preview(actor=actor, policy=policy)
    return {**counts.as_dict(), "also_deleted": counts.also_deleted}


@router.post(
    "/retention-policies/{retention_policy_id}/run",
    response=RetentionRunOut,
    summary="Apply a retention policy now",
)
def run_retention_policy(request: HttpRequest, retention_policy_id: str) -> dict[str, Any]:
    """409 until the policy is enabled or previewed. People under a legal hold, or who
    restricted processing, are left alone."""
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id, write=True)
    return run_out(services.retention_run(actor=actor, policy=policy))


@router.get(
    "/retention-policies/{retention_policy_id}/runs",
    response=RetentionRunPage,
    summary="List a retention policy's runs, newest first",
)
def list_retention_runs(
    request: HttpRequest, retention_policy_id: str, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    actor = actor_of(request)
    policy = services.access_retention_policy(actor, retention_policy_id)
    rows, next_cursor = paginate(services.retention_run_list(actor, policy), cursor=cursor, limit=limit, order=("-pk",))
    return {"items": [run_out(run) for run in rows], "next": next_cursor}


# Legal holds ----------------------------------------------------------------------------------


@router.get("/legal-holds", response=LegalHoldPage, summary="List legal holds")
def list_legal_holds(
    request: HttpRequest, active: bool = False, cursor: str | None = None, limit: int | None = None
) -> dict[str, Any]:
    """`active=true` lists only the holds in force today."""
    holds = services.legal_hold_list(actor_of(request), active_only=active)
    rows, next_cursor = paginate(holds, cursor=cursor, limit=limit)
    return {"items": [hold_out(hold) for hold in rows], "next": next_cursor}


@router.post("/legal-holds", response={201: LegalHoldOut}, summary="Put a person under a legal hold")
def create_legal_hold(request: HttpRequest, payload: LegalHoldIn) -> Status[dict[str, Any]]:
    """While the hold is in force, the person cannot be erased and retention leaves their records alone."""
    actor = actor_of(request)
    hold = services.legal_hold_create(actor=actor, data=payload.model_dump(exclude_unset=True))
    return Status(201, hold_out(hold))


@router.post("/legal-holds/{legal_hold_id}/release", response=LegalHoldOut, summary="Release a legal hold")
def release_legal_hold(request: HttpRequest, legal_hold_id: str) -> dict[str, Any]:
    actor = actor_of(request)
    hold = services.access_legal_hold(actor, legal_hold_id, write=True)
    return hold_out(services.legal_hold_release(actor=actor, hold=hold))
