"""Who acts: every action takes an Actor, so the audit log always knows who did what."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from custos.core.errors import PermissionDenied


class Via(StrEnum):
    WEB = "web"
    API = "api"
    PORTAL = "portal"
    CLI = "cli"
    AUTOMATION = "automation"
    SYSTEM = "system"


class RecordScope(StrEnum):
    OWN = "own"
    TEAM = "team"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class Actor:
    """One person (or the system) acting inside one organisation, with their rights."""

    org_id: uuid.UUID
    via: Via
    user_id: uuid.UUID | None = None
    role_key: str = ""
    permissions: frozenset[str] = frozenset()
    record_scope: RecordScope = RecordScope.OWN
    team_member_ids: frozenset[uuid.UUID] = frozenset()
    hidden_fields: frozenset[str] = frozenset()
    ip: str | None = field(default=None, repr=False)
    user_agent: str = field(default="", repr=False)
    token_id: uuid.UUID | None = None
    # The member's own zone (an API token's): a moment given without an offset is read in it.
    time_zone: str = field(default="", repr=False)

    @property
    def member_id(self) -> uuid.UUID:
        """The acting user's id, for actions only a person (not the system) can take."""
        if self.user_id is None:
            raise PermissionDenied("member")
        return self.user_id

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless the actor holds the permission."""
        if permission not in self.permissions:
            raise PermissionDenied(permission)

    def may_see_field(self, model_key: str, field_name: str) -> bool:
        return f"{model_key}.{field_name}" not in self.hidden_fields

    def hidden_fields_of(self, model_key: str) -> frozenset[str]:
        """Names of the model's fields this actor's role may not see."""
        prefix = f"{model_key}."
        return frozenset(f.removeprefix(prefix) for f in self.hidden_fields if f.startswith(prefix))

    @classmethod
    def system(cls, org_id: uuid.UUID, *, permissions: frozenset[str] = frozenset()) -> Actor:
        """The platform itself acting for an organisation (periodic jobs, commands)."""
        return cls(
            org_id=org_id,
            via=Via.SYSTEM,
            role_key="system",
            permissions=permissions,
            record_scope=RecordScope.ALL,
        )
