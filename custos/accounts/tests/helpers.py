"""Small helpers the accounts tests share (the cast and fixtures live in custos.testing)."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from django.test import Client
from django.utils import timezone

from custos.accounts.access import actor_for
from custos.accounts.models import Membership, Role, User
from custos.accounts.services import member_add
from custos.audit.models import AuditEntry
from custos.core.actor import Via
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.testing import PASSWORD, Cast


def audit_entries(org: Organization, action: str | None = None) -> list[AuditEntry]:
    """The organisation's audit entries, oldest first, optionally of one action."""
    with tenant_scope(org):
        entries = AuditEntry.objects.order_by("seq")
        if action is not None:
            entries = entries.filter(action=action)
        return list(entries)


def audit_count(org: Organization) -> int:
    with tenant_scope(org):
        return AuditEntry.objects.count()


def sign_in(
    client: Client, email: str, password: str = PASSWORD, *, ip: str = "127.0.0.1", user_agent: str = "", **data: str
) -> Any:
    """Post the sign-in form as a browser at `ip` would."""
    return client.post(
        "/login/", {"email": email, "password": password, **data}, REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent
    )


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def add_member(cast: Cast, email: str, role_key: str, org: Organization | None = None) -> User:
    """A member of org A (or `org`), added by its owner; a new account gets the shared password."""
    org = org or cast.org_a
    owner = cast.olive if org == cast.org_a else cast.mallory
    with tenant_scope(org):
        owner_actor = actor_for(Membership.objects.get(user=owner, org=org), via=Via.CLI)
        membership = member_add(actor=owner_actor, email=email, role=Role.objects.get(key=role_key))
    user = membership.user
    if not user.has_usable_password():  # a new account: give it the cast's password
        user.set_password(PASSWORD)
        user.save()
    return user


def role(org: Organization, key: str) -> Role:
    with tenant_scope(org):
        return Role.objects.get(key=key)


def a_wrong_code(secret: str) -> str:
    """A six-digit code that is valid in none of the steps the server accepts now."""
    totp = pyotp.TOTP(secret)
    now = timezone.now().timestamp()
    valid = {totp.at(now + drift * totp.interval) for drift in (-2, -1, 0, 1, 2)}
    return next(code for code in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if code not in valid)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def html_text(response: Any) -> str:
    return response.content.decode()


def find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not found"
    return match.group(1)
