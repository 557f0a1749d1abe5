"""The permission catalogue and the system roles every organisation starts with.

A permission is ``<object type>.<action>``. Each object type belongs to an area; an API
token's scopes (``read``, ``write``, ``admin``, or ``<area>:read`` / ``<area>:write``)
narrow the permissions of the member who owns it, never widen them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

READ_ACTIONS = frozenset({"view", "export"})
CRUD = ("view", "add", "change", "delete", "export")


@dataclass(frozen=True)
class ObjectType:
    key: str
    area: str
    label: Promise
    actions: tuple[str, ...] = CRUD


OBJECT_TYPES: tuple[ObjectType, ...] = (
    ObjectType("company", "crm", _("Companies")),
    ObjectType("contact", "crm", _("Contacts")),
    ObjectType("lead", "crm", _("Leads")),
    ObjectType("deal", "crm", _("Deals")),
    ObjectType("pipeline", "crm", _("Pipelines"), ("view", "add", "change", "delete")),
    ObjectType("lead_rule", "crm", _("Lead scoring and assignment rules"), ("view", "add", "change", "delete")),
    ObjectType("activity", "crm", _("Activities")),
    ObjectType("appointment", "crm", _("Appointments")),
    # Setting up what appointments are made of; reading it comes with appointment.view.
    ObjectType(
        "service", "crm", _("Appointment set-up: services, resources, practitioners"), ("add", "change", "delete")
    ),
    ObjectType("product", "finance", _("Products")),
    ObjectType("invoice", "finance", _("Invoices")),
    ObjectType("payment", "finance", _("Payments")),
    ObjectType("subject", "privacy", _("Data subjects"), ("view", "change", "export", "erase")),
    ObjectType("privacy_request", "privacy", _("Privacy requests")),
    ObjectType("consent", "privacy", _("Consents"), ("view", "add", "change", "export")),
    ObjectType("special_category", "privacy", _("Special-category data"), ("view", "change")),
    ObjectType("purpose", "privacy", _("Purposes of processing"), ("view", "add", "change", "delete")),
    ObjectType(
        "retention_policy", "privacy", _("Retention policies and legal holds"), ("view", "add", "change", "delete")
    ),
    ObjectType("breach", "privacy", _("Data breaches"), ("view", "add", "change", "export")),
    ObjectType("processor", "privacy", _("Processors"), ("view", "add", "change", "delete")),
    ObjectType("audit", "audit", _("Audit log"), ("view", "export")),
    ObjectType("member", "admin", _("Members"), ("view", "add", "change", "delete")),
    ObjectType("role", "admin", _("Roles"), ("view", "add", "change", "delete")),
    ObjectType("team", "admin", _("Teams"), ("view", "add", "change", "delete")),
    ObjectType("token", "admin", _("Everyone's API tokens"), ("view", "delete")),
    ObjectType("organization", "admin", _("Organisation settings"), ("view", "change")),
)
AREAS = ("crm", "finance", "privacy", "audit", "admin")
AREA_LABELS = {
    "crm": _("Customers and sales"),
    "finance": _("Finance"),
    "privacy": _("Data protection"),
    "audit": _("Audit log"),
    "admin": _("Administration"),
}
ACTION_LABELS = {
    "view": _("view"),
    "add": _("create"),
    "change": _("edit"),
    "delete": _("delete"),
    "export": _("export"),
    "erase": _("erase"),
}

_AREA_OF = {t.key: t.area for t in OBJECT_TYPES}
ALL_PERMISSIONS: frozenset[str] = frozenset(f"{t.key}.{a}" for t in OBJECT_TYPES for a in t.actions)


def area_of(permission: str) -> str:
    return _AREA_OF[permission.split(".", 1)[0]]


def is_read(permission: str) -> bool:
    return permission.split(".", 1)[1] in READ_ACTIONS


def _of(types: tuple[str, ...], actions: tuple[str, ...]) -> set[str]:
    return {f"{t}.{a}" for t in types for a in actions if f"{t}.{a}" in ALL_PERMISSIONS}


CRM = ("company", "contact", "lead", "deal", "activity", "appointment")
FINANCE = ("product", "invoice", "payment")
PRIVACY = ("subject", "privacy_request", "consent", "purpose", "retention_policy", "breach", "processor")


@dataclass(frozen=True)
class SystemRole:
    key: str
    name: Promise
    permissions: frozenset[str]
    record_scope: str


SYSTEM_ROLES: tuple[SystemRole, ...] = (
    SystemRole("owner", _("Owner"), ALL_PERMISSIONS, "all"),
    SystemRole("admin", _("Admin"), ALL_PERMISSIONS, "all"),
    SystemRole(
        "manager",
        _("Manager"),
        frozenset(
            _of(CRM, CRUD)
            | _of(("pipeline", "lead_rule", "service"), ("view", "add", "change", "delete"))
            | _of(FINANCE, ("view",))
            | _of(("subject", "consent"), ("view",))
            | {"privacy_request.add"}
        ),
        "team",
    ),
    SystemRole(
        "sales",
        _("Sales"),
        frozenset(
            _of(CRM, ("view", "add", "change"))
            | {"pipeline.view", "lead_rule.view", "consent.view", "consent.add", "privacy_request.add"}
        ),
        "own",
    ),
    SystemRole(
        "support",
        _("Support"),
        frozenset(
            _of(CRM, ("view",))
            | _of(("contact", "company", "activity", "appointment"), ("change",))
            | {
                "pipeline.view",
                "activity.add",
                "appointment.add",
                "consent.view",
                "consent.add",
                "privacy_request.add",
                "privacy_request.view",
            }
        ),
        "all",
    ),
    SystemRole(
        "accountant",
        _("Accountant"),
        frozenset(_of(FINANCE, CRUD) | _of(("company", "contact"), ("view",))),
        "all",
    ),
    SystemRole(
        "privacy_officer",
        _("Privacy Officer"),
        frozenset(
            _of(PRIVACY, ("view", "add", "change", "delete", "export", "erase"))
            | _of(CRM, ("view", "export"))
            | _of(FINANCE, ("view",))
            | {
                "pipeline.view",
                "special_category.view",
                "audit.view",
                "audit.export",
                "member.view",
                "role.view",
                "team.view",
            }
        ),
        "all",
    ),
    SystemRole(
        "read_only",
        _("Read-only"),
        frozenset(_of(CRM, ("view",)) | _of(FINANCE, ("view",)) | {"pipeline.view"}),
        "all",
    ),
)
SYSTEM_ROLE_KEYS = frozenset(r.key for r in SYSTEM_ROLES)
# These roles must sign in with a second factor whatever the organisation decides.
TWO_FACTOR_ROLES = frozenset({"owner", "admin"})
# So must any role holding one of these: it reads health data or the audit log, or takes all
# of a person's data off the server (their export) or out of it for good (their erasure).
# A list's export (a manager's contacts) asks for it where the organisation requires it.
TWO_FACTOR_PERMISSIONS = frozenset(
    permission
    for permission in ALL_PERMISSIONS
    if permission.startswith(("special_category.", "audit.")) or permission in ("subject.export", "subject.erase")
)


class ScopeError(ValueError):
    pass


def parse_scopes(scopes: list[str]) -> frozenset[str]:
    """Validate token scopes; raises ScopeError naming the first bad one."""
    # The admin area goes only with the whole "admin" scope: "admin:read" would grant nothing.
    valid = {"read", "write", "admin"} | {f"{a}:{m}" for a in AREAS if a != "admin" for m in ("read", "write")}
    for scope in scopes:
        if scope not in valid:
            raise ScopeError(scope)
    if not scopes:
        raise ScopeError("")
    return frozenset(scopes)


def permissions_within_scopes(permissions: frozenset[str], scopes: frozenset[str]) -> frozenset[str]:
    """The subset of a member's permissions that a token with these scopes may use."""
    if "admin" in scopes:
        return permissions
    allowed: set[str] = set()
    for permission in permissions:
        area = area_of(permission)
        reading = is_read(permission)
        if area == "admin":
            continue
        writes = "write" in scopes or f"{area}:write" in scopes
        reads = "read" in scopes or f"{area}:read" in scopes
        if writes or (reading and reads):
            allowed.add(permission)
    return frozenset(allowed)
