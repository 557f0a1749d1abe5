"""Actions on organisations, members, roles, teams, tokens and second factors.

Each action runs in one transaction and writes its audit entry inside it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import phonenumbers
import pyotp
from django.apps import apps
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from custos.accounts.models import ApiToken, Membership, Role, Team, TeamMember, User
from custos.accounts.permissions import (
    ALL_PERMISSIONS,
    SYSTEM_ROLES,
    ScopeError,
    parse_scopes,
)
from custos.audit.services import audit_record
from custos.core import crypto
from custos.core.actor import Actor, RecordScope
from custos.core.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.core.validation import Cleaner

TOKEN_PREFIX = "cst_"  # noqa: S105  (a marker that makes leaked tokens easy to scan for)


def is_model_field(name: str) -> bool:
    """`contact.phone`: a field of a Custos model, named by the model's lower-case name."""
    model_name, _dot, field_name = name.partition(".")
    for model in apps.get_models():
        if model.__module__.startswith("custos.") and model._meta.model_name == model_name:
            return any(f.name == field_name for f in model._meta.concrete_fields)
    return False


def is_country(code: str) -> bool:
    """An ISO 3166 country with a telephone numbering plan (used to read national numbers)."""
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def generate_password() -> str:
    """A password to print once: 20 characters from an unambiguous alphabet."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@dataclass(frozen=True)
class NewOrganization:
    org: Organization
    owner: User
    password: str | None  # None when the owner already had an account


def organization_create(*, name: str, owner_email: str, country: str = "DE") -> NewOrganization:
    """A new tenant with its data key, the system roles, and an owner."""
    cleaner = Cleaner()
    name = cleaner.text("name", name, max_length=200)  # no NUL, no hidden controls
    errors = list(cleaner.errors)
    if not name and not errors:
        errors.append(FieldError("name", _("Enter a name.")))
    if not is_country(country):
        errors.append(FieldError("country", _("Use a two-letter country code such as DE.")))
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(owner_email)
    except ValidationError:
        errors.append(FieldError("owner", _("Enter a valid email address.")))
    if errors:
        raise ValidationFailed(errors)

    with transaction.atomic():
        org = Organization.objects.create(name=name, slug=_unique_slug(name), country=country.upper())
        owner = User.objects.filter(email__iexact=owner_email).first()
        password = None
        if owner is None:
            password = generate_password()
            owner = User.objects.create_user(owner_email, password)
        with tenant_scope(org):
            crypto.create_data_key(org.pk)
            roles = {
                role.key: Role.objects.create(
                    key=role.key,
                    name=str(role.name),
                    is_system=True,
                    permissions=sorted(role.permissions),
                    record_scope=role.record_scope,
                )
                for role in SYSTEM_ROLES
            }
            Membership.objects.create(user=owner, org=org, role=roles["owner"])
            actor = Actor.system(org.pk)
            audit_record(actor=actor, action="organization.create", object_type="organization", object_id=org.pk)
            audit_record(
                actor=actor, action="member.add", object_type="user", object_id=owner.pk, extra={"role": "owner"}
            )
        if owner.last_organization_id is None:
            owner.last_organization = org
            owner.save(update_fields=["last_organization"])
    return NewOrganization(org=org, owner=owner, password=password)


# Members, roles and teams -------------------------------------------------------------


def _owner_count(org_id: uuid.UUID) -> int:
    # An owner whose account is switched off cannot act for the organisation: not counted.
    return Membership.objects.filter(org_id=org_id, role__key="owner", is_active=True, user__is_active=True).count()


SCOPE_RANK = {RecordScope.OWN: 0, RecordScope.TEAM: 1, RecordScope.ALL: 2}


def _require_within_own_rights(
    actor: Actor, *, permissions: Iterable[str], record_scope: str, hidden_fields: Iterable[str], action: str
) -> None:
    """Nobody hands out more than they hold: permissions, record scope or visible fields.

    Without this, anyone allowed to edit roles or members could make themselves all-powerful.
    """
    if actor.role_key == "owner":
        return
    beyond = (
        not set(permissions) <= actor.permissions
        or SCOPE_RANK[RecordScope(record_scope)] > SCOPE_RANK[actor.record_scope]
        or not actor.hidden_fields <= set(hidden_fields)
    )
    if beyond:
        raise PermissionDenied(action)


def _require_role_within_rights(actor: Actor, role: Role, action: str) -> None:
    if role.key == "owner" and actor.role_key != "owner":
        raise PermissionDenied(action)
    _require_within_own_rights(
        actor,
        permissions=role.permissions,
        record_scope=role.record_scope,
        hidden_fields=role.hidden_fields,
        action=action,
    )


def member_add(*, actor: Actor, email: str, role: Role) -> Membership:
    """Add a person by email. They get a mail: a link to choose a password if they are new to
    Custos, a notice otherwise. The answer is the same either way, so that no one learns
    whether an address has an account elsewhere."""
    actor.require("member.add")
    _require_role_within_rights(actor, role, "member.add")
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed.single("email", _("Enter a valid email address.")) from None
    from custos.accounts.tasks import send_invitation

    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email, None)  # unusable until they choose one
        if Membership.objects.filter(user=user, org_id=actor.org_id).exists():
            raise ValidationFailed.single("email", _("This person is already a member."))
        membership = Membership.objects.create(user=user, org_id=actor.org_id, role=role)
        audit_record(actor=actor, action="member.add", object_type="user", object_id=user.pk, extra={"role": role.key})
        transaction.on_commit(lambda: send_invitation.enqueue(str(user.pk), str(actor.org_id)))
    return membership


def member_change_role(*, actor: Actor, membership: Membership, role: Role) -> None:
    actor.require("member.change")
    _require_role_within_rights(actor, membership.role, "member.change")
    _require_role_within_rights(actor, role, "member.change")
    with transaction.atomic():
        if membership.role.key == "owner" and role.key != "owner" and _owner_count(actor.org_id) <= 1:
            raise Conflict(_("An organisation needs at least one owner."))
        old = membership.role.key
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            actor=actor,
            action="member.role_change",
            object_type="user",
            object_id=membership.user_id,
            extra={"from": old, "to": role.key},
        )


def member_remove(*, actor: Actor, membership: Membership) -> None:
    actor.require("member.delete")
    _require_role_within_rights(actor, membership.role, "member.delete")
    with transaction.atomic():
        if membership.role.key == "owner" and _owner_count(actor.org_id) <= 1:
            raise Conflict(_("An organisation needs at least one owner."))
        user_id = membership.user_id
        ApiToken.objects.filter(org_id=actor.org_id, user_id=user_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        TeamMember.objects.filter(user_id=user_id).delete()
        membership.delete()
        audit_record(actor=actor, action="member.remove", object_type="user", object_id=user_id)
        # What the domain holds for them (calendar feeds, a practitioner profile) goes with it:
        # accounts cannot import the domain, which registers its part (`accounts.hooks`).
        from custos.accounts.hooks import member_removed

        member_removed(actor, user_id)


def _validate_role(*, name: str, permissions: list[str], record_scope: str, hidden_fields: list[str]) -> None:
    errors = []
    if not name.strip():
        errors.append(FieldError("name", _("Enter a name.")))
    unknown = sorted(set(permissions) - ALL_PERMISSIONS)
    if unknown:
        errors.append(FieldError("permissions", _("Unknown permission: %(name)s") % {"name": unknown[0]}))
    if record_scope not in RecordScope:
        errors.append(FieldError("record_scope", _("Choose which records the role sees: its own, its team's, or all.")))
    unknown_fields = [f for f in hidden_fields if not is_model_field(f)]
    if unknown_fields:
        errors.append(
            FieldError(
                "hidden_fields",
                _("Unknown field: %(name)s. Write fields as object.field, e.g. contact.phone.")
                % {"name": unknown_fields[0]},
            )
        )
    if errors:
        raise ValidationFailed(errors)


def role_create(
    *, actor: Actor, name: str, permissions: list[str], record_scope: str, hidden_fields: list[str]
) -> Role:
    actor.require("role.add")
    name = " ".join(name.split())
    _validate_role(name=name, permissions=permissions, record_scope=record_scope, hidden_fields=hidden_fields)
    _require_within_own_rights(
        actor, permissions=permissions, record_scope=record_scope, hidden_fields=hidden_fields, action="role.add"
    )
    key = f"custom-{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        if Role.objects.filter(name__iexact=name).exists():
            raise ValidationFailed.single("name", _("A role with this name already exists."))
        role = Role.objects.create(
            key=key,
            name=name.strip(),
            permissions=sorted(set(permissions)),
            record_scope=record_scope,
            hidden_fields=sorted(set(hidden_fields)),
        )
        audit_record(actor=actor, action="role.create", object_type="role", object_id=role.pk, extra={"key": key})
    return role


def role_update(
    *, actor: Actor, role: Role, name: str, permissions: list[str], record_scope: str, hidden_fields: list[str]
) -> Role:
    """Change a role. The owner role cannot be narrowed: someone must hold everything."""
    actor.require("role.change")
    name = " ".join(name.split())
    if role.key == "owner":
        raise Conflict(_("The owner role always holds every permission."))
    _require_role_within_rights(actor, role, "role.change")
    _validate_role(name=name, permissions=permissions, record_scope=record_scope, hidden_fields=hidden_fields)
    _require_within_own_rights(
        actor, permissions=permissions, record_scope=record_scope, hidden_fields=hidden_fields, action="role.change"
    )
    if Role.objects.filter(name__iexact=name).exclude(pk=role.pk).exists():
        raise ValidationFailed.single("name", _("A role with this name already exists."))
    with transaction.atomic():
        before = {
            "permissions": set(role.permissions),
            "record_scope": role.record_scope,
            "hidden_fields": set(role.hidden_fields),
            "name": role.name,
        }
        role.name = name.strip()
        role.permissions = sorted(set(permissions))
        role.record_scope = record_scope
        role.hidden_fields = sorted(set(hidden_fields))
        role.save()
        changed = [
            key
            for key, value in {
                "permissions": set(role.permissions),
                "record_scope": role.record_scope,
                "hidden_fields": set(role.hidden_fields),
                "name": role.name,
            }.items()
            if before[key] != value
        ]
        added = sorted(set(role.permissions) - before["permissions"])  # type: ignore[operator]
        removed = sorted(before["permissions"] - set(role.permissions))  # type: ignore[operator]
        audit_record(
            actor=actor,
            action="role.change",
            object_type="role",
            object_id=role.pk,
            fields=changed,
            extra={"key": role.key, "added": ",".join(added)[:200], "removed": ",".join(removed)[:200]},
        )
    return role


def role_delete(*, actor: Actor, role: Role) -> None:
    actor.require("role.delete")
    _require_role_within_rights(actor, role, "role.delete")
    if role.is_system:
        raise Conflict(_("System roles cannot be deleted."))
    with transaction.atomic():
        if Membership.objects.filter(role=role).exists():
            raise Conflict(_("Members still hold this role."))
        audit_record(actor=actor, action="role.delete", object_type="role", object_id=role.pk, extra={"key": role.key})
        role.delete()


def team_create(*, actor: Actor, name: str) -> Team:
    actor.require("team.add")
    if not name.strip():
        raise ValidationFailed.single("name", _("Enter a name."))
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name.strip())
            audit_record(actor=actor, action="team.create", object_type="team", object_id=team.pk)
    except IntegrityError:
        raise ValidationFailed.single("name", _("A team with this name already exists.")) from None
    return team


def team_set_members(*, actor: Actor, team: Team, user_ids: set[uuid.UUID] | set[str]) -> None:
    """Make exactly these members of the organisation the team; other ids are ignored."""
    actor.require("team.change")
    valid: set[uuid.UUID] = set()
    for value in user_ids:
        try:
            valid.add(uuid.UUID(str(value)))
        except ValueError:
            continue
    user_ids = valid
    members = set(
        Membership.objects.filter(org_id=actor.org_id, user_id__in=user_ids).values_list("user_id", flat=True)
    )
    with transaction.atomic():
        current = set(TeamMember.objects.filter(team=team).values_list("user_id", flat=True))
        if actor.user_id in members - current and not actor.can("member.change"):
            # With a team's record scope, joining a team is seeing its records: nobody hands
            # themselves more than they hold.
            raise PermissionDenied("member.change")
        TeamMember.objects.filter(team=team, user_id__in=current - members).delete()
        TeamMember.objects.bulk_create([TeamMember(team=team, user_id=u) for u in members - current])
        audit_record(
            actor=actor,
            action="team.members_change",
            object_type="team",
            object_id=team.pk,
            extra={"added": len(members - current), "removed": len(current - members)},
        )


def team_delete(*, actor: Actor, team: Team) -> None:
    actor.require("team.delete")
    with transaction.atomic():
        audit_record(actor=actor, action="team.delete", object_type="team", object_id=team.pk)
        team.delete()


def organization_update(*, actor: Actor, org: Organization, name: str, country: str, require_two_factor: bool) -> None:
    actor.require("organization.change")
    errors = []
    if not name.strip():
        errors.append(FieldError("name", _("Enter a name.")))
    if not is_country(country):
        errors.append(FieldError("country", _("Use a two-letter country code such as DE.")))
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        changed = [
            f
            for f, v in {
                "name": name.strip(),
                "country": country.upper(),
                "require_two_factor": require_two_factor,
            }.items()
            if getattr(org, f) != v
        ]
        org.name, org.country, org.require_two_factor = name.strip(), country.upper(), require_two_factor
        org.save(update_fields=["name", "country", "require_two_factor"])
        audit_record(
            actor=actor, action="organization.change", object_type="organization", object_id=org.pk, fields=changed
        )


# API tokens ---------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_create(*, actor: Actor, name: str, scopes: list[str], expires_days: int | None = 90) -> tuple[ApiToken, str]:
    """A new token for the acting member; the plaintext is returned once and never stored."""
    if actor.user_id is None:
        raise PermissionDenied("token.add")
    errors = []
    if not name.strip():
        errors.append(FieldError("name", _("Enter a name.")))
    try:
        parsed = parse_scopes(scopes)
    except ScopeError as error:
        errors.append(FieldError("scopes", _("Unknown scope: %(scope)s") % {"scope": str(error) or "—"}))
        parsed = frozenset()
    if "admin" in parsed and not actor.can("member.change"):
        errors.append(FieldError("scopes", _("Only administrators can create admin tokens.")))
    if expires_days is not None and not 1 <= expires_days <= 3650:
        errors.append(FieldError("expires_days", _("Choose between 1 and 3650 days.")))
    if errors:
        raise ValidationFailed(errors)
    secret = secrets.token_urlsafe(32)
    prefix = secret[:8]
    plaintext = f"{TOKEN_PREFIX}{secret}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            org_id=actor.org_id,
            user_id=actor.user_id,
            name=name.strip()[:100],
            prefix=prefix,
            token_hash=_hash_token(plaintext),
            scopes=sorted(parsed),
            expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
        )
        audit_record(
            actor=actor,
            action="token.create",
            object_type="token",
            object_id=token.pk,
            extra={"scopes": ",".join(token.scopes), "expires_days": expires_days or 0},
        )
    return token, plaintext


def token_revoke(*, actor: Actor, token: ApiToken) -> None:
    if token.user_id != actor.user_id:
        actor.require("token.delete")
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(actor=actor, action="token.revoke", object_type="token", object_id=token.pk)


def token_digest(plaintext: str) -> str | None:
    """What a presented token is looked up by, or None when it cannot be one of ours."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 100:
        return None
    return _hash_token(plaintext)


# A token's organisation never changes, so a process remembers it once seen: an API
# request can then enter its tenant before the one query that authorises it. Whether the
# token is still usable is never remembered; that query asks every time.
_token_orgs: dict[str, uuid.UUID] = {}
TOKEN_ORGS_REMEMBERED = 10_000


def token_org_id(digest: str) -> uuid.UUID | None:
    """The organisation of the token with this digest, revoked or not; None if never issued."""
    org_id = _token_orgs.get(digest)
    if org_id is None:
        org_id = ApiToken.objects.filter(token_hash=digest).values_list("org_id", flat=True).first()
        if org_id is None:
            return None
        if len(_token_orgs) >= TOKEN_ORGS_REMEMBERED:
            _token_orgs.clear()
        _token_orgs[digest] = org_id
    return org_id


# Reads should not each become a write: a token's use is recorded at most this often.
TOKEN_USE_RECORDED_EVERY = timedelta(minutes=1)


def token_mark_used(token_id: uuid.UUID) -> bool:
    """Record a token's use unless it was recorded in the last minute; True if recorded now
    (of concurrent requests, exactly one)."""
    now = timezone.now()
    due = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOKEN_USE_RECORDED_EVERY)
    return ApiToken.objects.filter(due, pk=token_id).update(last_used_at=now) > 0


# Second factor ------------------------------------------------------------------------

RECOVERY_CODE_COUNT = 10


def _totp(user: User) -> pyotp.TOTP:
    return pyotp.TOTP(crypto.open_platform(user.totp_secret, aad=f"totp|{user.pk}"))


def totp_begin(user: User) -> str:
    """Start setting up TOTP: a fresh secret, kept sealed until the first code confirms it."""
    if user.has_two_factor:
        raise Conflict(_("Two-factor sign-in is already set up."))
    secret = pyotp.random_base32()
    user.totp_secret = crypto.seal_platform(secret, aad=f"totp|{user.pk}")
    user.save(update_fields=["totp_secret"])
    return secret


def totp_provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Custos")


def _check_code(user: User, code: str) -> bool:
    """Accept the current code (±1 step for clock drift), and each step only once."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6) or not user.totp_secret:
        return False
    totp = _totp(user)
    now = timezone.now().timestamp()
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        step = int(at // totp.interval)
        if step > user.totp_last_step and secrets.compare_digest(totp.at(at), code):
            # Conditional, so that of two requests racing with one code only one wins.
            if User.objects.filter(pk=user.pk, totp_last_step__lt=step).update(totp_last_step=step) == 1:
                user.totp_last_step = step
                return True
            return False
    return False


def _new_recovery_codes() -> tuple[list[str], list[str]]:
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    return codes, [make_password(code) for code in codes]


def totp_confirm(user: User, code: str) -> list[str]:
    """Finish setup with a first valid code; returns the recovery codes, shown once."""
    if user.has_two_factor:
        raise Conflict(_("Two-factor sign-in is already set up."))
    if not _check_code(user, code):
        raise ValidationFailed.single("code", _("The code is not valid. Check the time on your phone and try again."))
    codes, hashes = _new_recovery_codes()
    user.totp_confirmed_at = timezone.now()
    user.recovery_code_hashes = hashes
    user.save(update_fields=["totp_confirmed_at", "recovery_code_hashes"])
    return codes


def totp_verify(user: User, code: str) -> bool:
    """A sign-in code: a TOTP code, or one of the recovery codes (used up by this)."""
    if not user.has_two_factor:
        return False
    if _check_code(user, code):
        return True
    code = code.strip().lower()
    if len(code) > 32:
        return False
    with transaction.atomic():
        # Locked and re-read: two codes used at once must not bring either back.
        current = User.objects.select_for_update().only("recovery_code_hashes").get(pk=user.pk)
        for stored in current.recovery_code_hashes:
            if check_password(code, stored):
                remaining = [h for h in current.recovery_code_hashes if h != stored]
                User.objects.filter(pk=user.pk).update(recovery_code_hashes=remaining)
                user.recovery_code_hashes = remaining
                return True
    return False


def recovery_codes_regenerate(user: User) -> list[str]:
    codes, hashes = _new_recovery_codes()
    user.recovery_code_hashes = hashes
    user.save(update_fields=["recovery_code_hashes"])
    return codes


def totp_disable(user: User) -> None:
    user.totp_secret = ""
    user.totp_confirmed_at = None
    user.recovery_code_hashes = []
    user.save(update_fields=["totp_secret", "totp_confirmed_at", "recovery_code_hashes"])


def sign_out_everywhere(user: User) -> None:
    """End every session of the user: their session hashes no longer match."""
    User.objects.filter(pk=user.pk).update(session_generation=user.session_generation + 1)
    user.session_generation += 1


def user_audit(user: User, action: str, *, ip: str | None, user_agent: str, via: str = "web") -> None:
    """Record an event of the account itself (sign-in, 2FA) in the log of the organisation the
    person works in (the last one entered, else the first joined), not in every one: any
    organisation can add an existing account as a member, and must not learn from it where
    and when the person signs in elsewhere."""
    from custos.core.actor import Via

    memberships = Membership.objects.filter(user=user, is_active=True)
    org_id = user.last_organization_id
    if org_id is None or not memberships.filter(org_id=org_id).exists():
        org_id = memberships.order_by("created_at", "pk").values_list("org_id", flat=True).first()
    if org_id is None:
        return
    with tenant_scope(org_id), transaction.atomic():
        actor = Actor(org_id=org_id, via=Via(via), user_id=user.pk, ip=ip, user_agent=user_agent)
        audit_record(actor=actor, action=action, object_type="user", object_id=user.pk)


def master_key_rotate() -> tuple[int, int]:
    """Re-wrap every data key and re-seal every TOTP seed under the current master key."""
    data_keys = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        count = crypto.rewrap_data_keys(org_id)
        data_keys += count
        with tenant_scope(org_id), transaction.atomic():
            audit_record(
                actor=Actor.system(org_id),
                action="keys.rotate",
                extra={"data_keys": count, "master_key": crypto.current_master_key()[0]},
            )
    sealed = 0
    for user in User.objects.exclude(totp_secret="").only("pk", "totp_secret"):
        if not crypto.platform_sealed_by_current(user.totp_secret):
            aad = f"totp|{user.pk}"
            user.totp_secret = crypto.seal_platform(crypto.open_platform(user.totp_secret, aad=aad), aad=aad)
            user.save(update_fields=["totp_secret"])
            sealed += 1
    return data_keys, sealed


@dataclass
class MasterKeyUse:
    data_keys: int = 0
    sign_in_secrets: int = 0


def master_key_usage() -> dict[str, MasterKeyUse]:
    """What each master key still seals: data keys and TOTP seeds. An old key may go only
    when it seals nothing."""
    usage: dict[str, MasterKeyUse] = {}
    for org_id in Organization.objects.values_list("pk", flat=True):
        for master_id, count in crypto.data_key_wrappers(org_id).items():
            usage.setdefault(master_id, MasterKeyUse()).data_keys += count
    for sealed in User.objects.exclude(totp_secret="").values_list("totp_secret", flat=True):
        usage.setdefault(crypto.platform_sealed_by(sealed), MasterKeyUse()).sign_in_secrets += 1
    return usage
