"""Where layers above accounts learn that a member left an organisation, or that an
organisation was deleted.

Accounts sits below the domain packages in the import layers, so it cannot wind up what
they hold for a member (a practitioner profile, a calendar feed's secret link); they
register callbacks at start-up, once, in an AppConfig.ready() (as with the privacy
engine's `privacy.services.hooks`). The callbacks run inside the removal's transaction,
with its actor, so that the membership and what hung on it go together, audited as one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from custos.core.actor import Actor

_member_removed: list[Callable[[Actor, uuid.UUID], None]] = []


def on_member_removed(callback: Callable[[Actor, uuid.UUID], None]) -> None:
    if callback not in _member_removed:
        _member_removed.append(callback)


def member_removed(actor: Actor, user_id: uuid.UUID) -> None:
    """The user is no longer a member of the actor's organisation."""
    for callback in _member_removed:
        callback(actor, user_id)


_organization_deleted: list[Callable[[list[str]], None]] = []


def on_organization_deleted(callback: Callable[[list[str]], None]) -> None:
    if callback not in _organization_deleted:
        _organization_deleted.append(callback)


def organization_deleted(tables: list[str]) -> None:
    """An organisation's deletion has committed, emptying these tables of it: the privacy
    engine removes what the database keeps beyond the rows (old WAL pages, row versions)."""
    for callback in _organization_deleted:
        callback(tables)
