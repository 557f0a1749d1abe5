"""What scheduling winds up when a member leaves the organisation (registered in `apps.py`)."""

from __future__ import annotations

import uuid

from custos.core.actor import Actor
from custos.core.tenancy import tenant_scope
from custos.scheduling.services.catalogue import practitioner_deactivate_member
from custos.scheduling.services.feeds import calendar_feed_revoke_member


def scheduling_member_removed(actor: Actor, user_id: uuid.UUID) -> None:
    """Their feed links stop for good and they take no new appointments."""
    with tenant_scope(actor.org_id):
        calendar_feed_revoke_member(actor=actor, user_id=user_id)
        practitioner_deactivate_member(actor=actor, user_id=user_id)
