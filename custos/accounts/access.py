"""Who may act where: building the Actor for a member of an organisation."""

from __future__ import annotations

import dataclasses
import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from custos.accounts.models import AccessVersion, ApiToken, Membership, Role, TeamMember, User
from custos.accounts.permissions import (
    TWO_FACTOR_PERMISSIONS,
    TWO_FACTOR_ROLES,
    area_of,
    is_read,
    permissions_within_scopes,
)
from custos.accounts.services import TOKEN_USE_RECORDED_EVERY, token_digest, token_org_id
from custos.core.actor import Actor, RecordScope, Via
from custos.core.db.prepared import execute_prepared
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


@dataclass(frozen=True, slots=True)
class Rider:
    """A read that travels in the token's own statement: the hottest request then makes one
    round trip to the database, not two. Its columns and joins read from `tok`, the token's
    row (`org_id`, `user_id`, `record_scope`…), and its parameters are its own, in the order
    they appear. One name, one text: the statement is prepared by that name."""

    name: str
    columns: str
    joins: str
    params: Sequence[Any]


@dataclass(frozen=True, slots=True)
class TokenUse:
    """A usable API token's Actor, whether its use is due to be recorded (once a minute), and
    the rows its rider read (`None` without one)."""

    actor: Actor
    token_id: uuid.UUID
    record_use: bool
    ridden: list[tuple[Any, ...]] | None = None


def token_use(
    plaintext: str, *, ip: str | None = None, user_agent: str = "", rider: Rider | None = None
) -> TokenUse | None:
    """The Actor of a usable bearer token, or None: unknown, revoked or expired token,
    membership removed or inactive, user deactivated.

    Every API request comes here. The token, its member, role and teams are read in one
    statement, written out and prepared once per connection on PostgreSQL, inside the token's
    organisation (so row-level security walls the role and team rows as everywhere else).
    The Actor built from them is remembered with the organisation's access version read in
    that statement; the next requests only read the version (with the rider's rows) and use
    the Actor while it stands still, for at most `TOKEN_USE_RECORDED_EVERY`: any change to a
    token, member, role or team changes it (database triggers), so every change applies to
    the next request. On PostgreSQL, where the triggers run at commit, a transaction that
    has written reads no version (its own changes are not stamped yet) and remembers nothing.
    """
    digest = token_digest(plaintext)
    org_id = token_org_id(digest) if digest else None
    if digest is None or org_id is None:
        return None
    now = timezone.now()
    database = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: looked up once
    known = _known_tokens.get(digest)
    if known is not None and now < known.until:
        with tenant_scope(org_id):
            rows = _read_version(database, known.actor, rider)
        if rows and rows[0][0] == known.version:
            actor = dataclasses.replace(known.actor, ip=ip, user_agent=user_agent[:300])
            ridden = [row[1:] for row in rows] if rider is not None else None
            return TokenUse(actor=actor, token_id=known.token_id, record_use=False, ridden=ridden)
    with tenant_scope(org_id):
        rows = _read_token(database, digest, org_id, now, rider)
    if not rows:
        _known_tokens.pop(digest, None)
        return None
    token_id, *_, record_use, _org_id, version, lasts, _zone = rows[0][:TOKEN_COLUMNS]
    token_id = uuid.UUID(str(token_id))
    actor = _actor_of(rows[0], org_id, ip=ip, user_agent=user_agent)
    if version is not None and lasts:  # a token expiring within the period is read every time
        if len(_known_tokens) >= TOKENS_REMEMBERED:
            _known_tokens.clear()
        _known_tokens[digest] = _KnownToken(actor, token_id, version, now + TOKEN_USE_RECORDED_EVERY)
    ridden = [row[TOKEN_COLUMNS:] for row in rows] if rider is not None else None
    return TokenUse(actor=actor, token_id=token_id, record_use=bool(record_use), ridden=ridden)


def _read_token(
    database: Any, digest: str, org_id: uuid.UUID, now: datetime, rider: Rider | None
) -> list[tuple[Any, ...]]:
    """The token's statement (with its rider's rows), inside the token's organisation."""
    org = org_id if database.features.has_native_uuid_field else org_id.hex
    params = [
        org,
        org,
        database.ops.adapt_datetimefield_value(now - TOKEN_USE_RECORDED_EVERY),
        org,
        database.ops.adapt_datetimefield_value(now + TOKEN_USE_RECORDED_EVERY),
        digest,
        org,
        org,
        database.ops.adapt_datetimefield_value(now),
        True,
        True,
    ]
    sql, name = _token_use_sql(database.vendor), "custos_token_use"
    if rider is not None:
        # Every token has at most one row: the rider's rows each repeat it.
        sql = f"WITH tok AS ({sql}) SELECT tok.*, {rider.columns} FROM tok {rider.joins}"  # noqa: S608
        name, params = f"{name}_{rider.name}", [*params, *rider.params]
    with database.cursor() as cursor:
        execute_prepared(cursor, name, sql, params)
        return cursor.fetchall()


def _actor_of(row: tuple[Any, ...], org_id: uuid.UUID, *, ip: str | None, user_agent: str) -> Actor:
    """The Actor the token statement's row describes (its first `TOKEN_COLUMNS` columns)."""
    token_id, user_id, scopes, role_key, permissions, record_scope, hidden_fields, mates = row[:8]
    time_zone = row[TOKEN_COLUMNS - 1] or ""
    user_id = uuid.UUID(str(user_id))
    allowed, hidden = _rights(permissions, scopes, hidden_fields)
    return Actor(
        org_id=org_id,
        via=Via.API,
        user_id=user_id,
        role_key=role_key,
        permissions=allowed,
        record_scope=RecordScope(record_scope),
        team_member_ids=frozenset({user_id, *(uuid.UUID(mate) for mate in (mates or "").split(",") if mate)}),
        hidden_fields=hidden,
        ip=ip,
        user_agent=user_agent[:300],
        token_id=uuid.UUID(str(token_id)),
        time_zone=time_zone,
    )


@dataclass(frozen=True, slots=True)
class _KnownToken:
    actor: Actor
    token_id: uuid.UUID
    version: int
    until: datetime  # read in full again from then on: the token's use is recorded then


# Per process, by the token's digest (never the token itself).
_known_tokens: dict[str, _KnownToken] = {}
TOKENS_REMEMBERED = 10_000
TOKEN_COLUMNS = 13


def _read_version(database: Any, actor: Actor, rider: Rider | None) -> list[tuple[Any, ...]]:
    """The access version, with the rider's rows read for the remembered member: `tok` is
    then made of the Actor's values instead of the token's tables."""
    if actor.user_id is None:  # an API Actor always has its member: never remembered otherwise
        return []
    native = database.features.has_native_uuid_field
    org = actor.org_id if native else actor.org_id.hex
    version = _version_sql(database.vendor)
    with database.cursor() as cursor:
        if rider is None:
            execute_prepared(cursor, "custos_access_version", f"SELECT {version}", [org])
            return cursor.fetchall()
        uuid_param = "CAST(%s AS uuid)" if database.vendor == "postgresql" else "%s"
        text_param = "CAST(%s AS varchar)" if database.vendor == "postgresql" else "%s"
        sql = (
            f"WITH tok AS (SELECT {uuid_param} AS org_id, {uuid_param} AS user_id, {text_param} AS record_scope, "  # noqa: S608
            f"{version} AS access_version) SELECT tok.access_version, {rider.columns} FROM tok {rider.joins}"
        )
        user = actor.user_id if native else actor.user_id.hex
        params = [org, user, str(actor.record_scope), org, *rider.params]
        execute_prepared(cursor, f"custos_known_token_{rider.name}", sql, params)
        return cursor.fetchall()


@functools.cache
def _version_sql(vendor: str) -> str:
    """The organisation's access version (a parameter names it); NULL inside a PostgreSQL
    transaction that has written, whose changes the deferred triggers have not stamped yet."""
    version = f"(SELECT version FROM {AccessVersion._meta.db_table} WHERE org_id = %s)"  # noqa: S608
    if vendor == "postgresql":
        return f"CASE WHEN pg_current_xact_id_if_assigned() IS NULL THEN {version} END"
    return version


@functools.cache
def _token_use_sql(vendor: str) -> str:
    token, user, membership = ApiToken._meta.db_table, User._meta.db_table, Membership._meta.db_table
    role, team_member = Role._meta.db_table, TeamMember._meta.db_table
    # The role's JSON comes as text: `_rights` keys its cache by that text, and PostgreSQL's
    # jsonb would otherwise be parsed into lists (a hundred permissions) at every request.
    if vendor == "postgresql":
        mates = "string_agg(DISTINCT mate.user_id::text, ',')"
        as_text = "::text"
    else:
        mates = "group_concat(DISTINCT mate.user_id)"
        as_text = ""
    # Table names come from the models; every value is a parameter. The columns (TOKEN_COLUMNS
    # of them) are named for a rider to read; the access version is read in the same snapshot.
    return f"""
        SELECT t.id AS token_id, t.user_id AS user_id, t.scopes{as_text} AS scopes, r.key AS role_key,
            r.permissions{as_text} AS permissions, r.record_scope AS record_scope,
            r.hidden_fields{as_text} AS hidden_fields,
            (SELECT {mates} FROM {team_member} mine JOIN {team_member} mate ON mate.team_id = mine.team_id
             WHERE mine.user_id = t.user_id AND mine.org_id = %s AND mate.org_id = %s) AS mates,
            (t.last_used_at IS NULL OR t.last_used_at < %s) AS record_use, t.org_id AS org_id,
            {_version_sql(vendor)} AS access_version,
            (t.expires_at IS NULL OR t.expires_at > %s) AS lasts, u.time_zone AS time_zone
        FROM {token} t
        JOIN {user} u ON u.id = t.user_id
        JOIN {membership} m ON m.user_id = t.user_id AND m.org_id = t.org_id
        JOIN {role} r ON r.id = m.role_id
        WHERE t.token_hash = %s AND t.org_id = %s AND r.org_id = %s AND t.revoked_at IS NULL
            AND (t.expires_at IS NULL OR t.expires_at > %s) AND u.is_active = %s AND m.is_active = %s
    """  # noqa: S608


def _rights(permissions: Any, scopes: Any, hidden_fields: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The permissions the token may use and the fields hidden from its member."""
    return _rights_of(
        *(value if isinstance(value, str) else json.dumps(value) for value in (permissions, scopes, hidden_fields))
    )


@functools.lru_cache(maxsize=512)
def _rights_of(permissions: str, scopes: str, hidden_fields: str) -> tuple[frozenset[str], frozenset[str]]:
    # A pure function of the stored values (JSON text), so each process works it out once.
    allowed = permissions_within_scopes(frozenset(json.loads(permissions)), frozenset(json.loads(scopes)))
    return allowed, frozenset(json.loads(hidden_fields))


def needs_two_factor(membership: Membership) -> bool:
    """Owners, admins, any role that administers and any role that reads health data or the
    audit log, exports or erases (`TWO_FACTOR_PERMISSIONS`) sign in with a second factor;
    others when the organisation says so."""
    with tenant_scope(membership.org_id):
        role = membership.role
    administers = any(area_of(permission) == "admin" and not is_read(permission) for permission in role.permissions)
    guarded = not TWO_FACTOR_PERMISSIONS.isdisjoint(role.permissions)
    return role.key in TWO_FACTOR_ROLES or administers or guarded or membership.org.require_two_factor


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
