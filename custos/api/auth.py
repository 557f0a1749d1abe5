"""Bearer tokens: the token names the member and the organisation."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer

from custos.accounts import throttle
from custos.accounts.access import actor_for, membership_for
from custos.accounts.permissions import is_read
from custos.accounts.services import token_find, token_mark_used
from custos.audit.services import audit_record
from custos.core.actor import Actor, Via
from custos.core.net import client_ip
from custos.core.tenancy import enter_tenant, tenant_scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        ip = client_ip(request)
        found = token_find(token.strip())
        membership = membership_for(found.user, found.org_id) if found else None
        if found is None or membership is None:
            if throttle.token_failure_blocked(ip):
                raise HttpError(429, "too many failed token attempts")
            return None
        actor = actor_for(membership, via=Via.API, ip=ip, user_agent=request.headers.get("User-Agent", ""), token=found)
        if request.method not in SAFE_METHODS and all(is_read(p) for p in actor.permissions):
            # Refuse before the body is even parsed: a read-only token learns nothing more.
            raise HttpError(403, "read-only token")
        enter_tenant(found.org_id)
        if token_mark_used(found):
            with tenant_scope(found.org_id), transaction.atomic():
                audit_record(actor=actor, action="token.use", object_type="token", object_id=found.pk)
        return actor
