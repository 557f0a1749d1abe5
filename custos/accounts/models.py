"""Organisations, people who sign in, what they may do, and their API tokens.

Organization, User, Membership and ApiToken are platform tables: a user belongs to
several organisations, and a token names its organisation before any tenant is known.
Roles and teams belong to one organisation and sit behind the tenant wall.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from custos.core.actor import RecordScope
from custos.core.ids import uuid7
from custos.core.models import Organization
from custos.core.personal_data import CONTACT, IDENTITY
from custos.core.tenancy import TenantModel

LANGUAGE_CHOICES = [("", _("Browser default")), *settings.LANGUAGES]
RECORD_SCOPE_CHOICES = [
    (RecordScope.OWN.value, _("Their own records")),
    (RecordScope.TEAM.value, _("Their team's records")),
    (RecordScope.ALL.value, _("All records")),
]


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in. Staff of organisations; `is_staff` marks platform operators."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    email = models.EmailField(_("email"), unique=True)
    full_name = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True, choices=LANGUAGE_CHOICES)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Berlin")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now, editable=False)
    # Sealed under the master key (crypto.seal_platform); empty until 2FA is set up.
    totp_secret = models.TextField(blank=True, editable=False)
    totp_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    totp_last_step = models.BigIntegerField(default=0, editable=False)
    recovery_code_hashes = models.JSONField(default=list, blank=True, editable=False)
    # Raised by "sign out everywhere": every session signed with the old value ends.
    session_generation = models.PositiveIntegerField(default=0, editable=False)
    last_organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Privacy:
        # Staff accounts: their data is handled by the platform operator, not a tenant.
        subject = None
        fields = {
            "email": CONTACT,
            "full_name": IDENTITY,
            "password": IDENTITY,
            "totp_secret": IDENTITY,
            "recovery_code_hashes": IDENTITY,
        }
        not_personal = (
            "id",
            "language",
            "time_zone",
            "is_active",
            "is_staff",
            "is_superuser",
            "date_joined",
            "last_login",
            "totp_confirmed_at",
            "totp_last_step",
            "session_generation",
            "last_organization",
            "groups",
            "user_permissions",
        )

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def has_two_factor(self) -> bool:
        return self.totp_confirmed_at is not None

    def get_session_auth_hash(self) -> str:
        """Django ends a session whose hash no longer matches: password or generation."""
        return salted_hmac(
            "custos.accounts.User.session",
            f"{self.password}|{self.session_generation}",
            algorithm="sha256",
        ).hexdigest()


class Role(TenantModel):
    """What members holding it may do: permissions, record scope, hidden fields."""

    key = models.SlugField(max_length=60)
    name = models.CharField(_("name"), max_length=100)
    is_system = models.BooleanField(default=False, editable=False)
    permissions = models.JSONField(default=list)
    record_scope = models.CharField(
        _("records visible"), max_length=8, choices=RECORD_SCOPE_CHOICES, default=RecordScope.OWN.value
    )
    hidden_fields = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="role_unique_key")]
        ordering = ["name"]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "key", "name", "is_system", "permissions", "record_scope", "hidden_fields")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in an organisation."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "org"], name="membership_unique_user_org")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.org_id}"

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "user", "org", "role", "is_active", "created_at")


class Team(TenantModel):
    name = models.CharField(_("name"), max_length=100)
    members = models.ManyToManyField(User, through="TeamMember", related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="team_unique_name")]
        ordering = ["name"]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "name", "members")

    def __str__(self) -> str:
        return self.name


class TeamMember(TenantModel):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_unique")]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "org", "team", "user")


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = (
            "id",
            "org",
            "user",
            "name",
            "prefix",
            "token_hash",
            "scopes",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ThrottleCounter(models.Model):
    """A count of attempts in a window, keyed by a keyed hash (never an email or an IP).

    A table rather than the cache: the increment must be atomic and the window exact on
    every installation, and Django's database cache offers neither.
    """

    key = models.CharField(max_length=64, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("id", "key", "count", "expires_at")

    def __str__(self) -> str:
        return f"{self.key[:8]}…: {self.count}"


class AccessVersion(models.Model):
    """Per organisation, a stamp that database triggers change whenever something its
    tokens' rights are read from changes: a token, a membership, a role, a team's members, a
    member's deactivation. A process keeps the Actor it built for a token while the stamp
    stands still, so an API request asks for one number instead of five tables (see
    `access.token_use`). A stamp is never used twice (a sequence on PostgreSQL, random on
    SQLite), so a rolled-back change cannot bring an old one back.

    A platform table, not walled: the triggers write it whichever organisation a change
    belongs to. No foreign key: an organisation's deletion changes its stamp as it commits."""

    org_id = models.UUIDField(primary_key=True)
    version = models.BigIntegerField()

    class Privacy:
        subject = None
        fields: dict[str, str] = {}
        not_personal = ("org_id", "version")

    def __str__(self) -> str:
        return f"access version {self.version} of {self.org_id}"
