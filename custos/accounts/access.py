"""Who may act where: building the Actor for a member of an organisation."""

from __future__ import annotations

import uuid

from custos.accounts.models import ApiToken, Membership, TeamMember, User
from custos.accounts.permissions import TWO_FACTOR_ROLES, area_of, is_read, permissions_within_scopes
from custos.core.actor import Actor, RecordScope, Via
from custos.core.lookup import get_or_not_found
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope


def membership_for(user: User, org_id: uuid.UUID | str) -> Membership | None:
    """The user's active membership in the organisation, or None (also for a malformed id)."""
    try:
        org_id = uuid.UUID(str(org_id))
    except ValueError:
        return None
    return (
        Membership.objects.select_related("org")
        .filter(user=user, org_id=org_id, is_active=True, user__is_active=True)
        .first()
    )


def actor_for(
    membership: Membership,
    *,
    via: Via,
    ip: str | None = None,
    user_agent: str = "",
    token: ApiToken | None = None,
) -> Actor:
    """The member's rights in their organisation, narrowed by the token's scopes if any."""
    with tenant_scope(membership.org_id):
        role = membership.role
        # One query: everyone in any team the member is in (the member included).
        team_ids = TeamMember.objects.filter(user_id=membership.user_id).values("team_id")
        mates = frozenset(TeamMember.objects.filter(team_id__in=team_ids).values_list("user_id", flat=True))
    permissions = frozenset(role.permissions)
    if token is not None:
        permissions = permissions_within_scopes(permissions, frozenset(token.scopes))
    return Actor(
        org_id=membership.org_id,
        via=via,
        user_id=membership.user_id,
        role_key=role.key,
        permissions=permissions,
        record_scope=RecordScope(role.record_scope),
        team_member_ids=mates | {membership.user_id},
        hidden_fields=frozenset(role.hidden_fields),
        ip=ip,
        user_agent=user_agent[:300],
        token_id=token.pk if token else None,
    )


def needs_two_factor(membership: Membership) -> bool:
    """Owners, admins and any role that administers sign in with a second factor; others
    when the organisation says so."""
    with tenant_scope(membership.org_id):
        role = membership.role
    administers = any(area_of(permission) == "admin" and not is_read(permission) for permission in role.permissions)
    return role.key in TWO_FACTOR_ROLES or administers or membership.org.require_two_factor


def two_factor_required(user: User) -> bool:
    """Whether any of the user's organisations or roles requires a second factor."""
    memberships = Membership.objects.select_related("org").filter(user=user, is_active=True)
    return any(needs_two_factor(membership) for membership in memberships)


def organizations_of(user: User) -> list[Organization]:
    return [
        m.org for m in Membership.objects.select_related("org").filter(user=user, is_active=True).order_by("org__name")
    ]


def access_membership(actor: Actor, membership_id: object) -> Membership:
    """A membership of the actor's organisation, or NotFound."""
    return get_or_not_found(Membership.objects.select_related("user"), pk=membership_id, org_id=actor.org_id)
