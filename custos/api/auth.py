"""Bearer tokens: the token names the member and the organisation."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer

from custos.accounts import throttle
from custos.accounts.access import token_use
from custos.accounts.permissions import is_read
from custos.accounts.services import token_mark_used
from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.net import client_ip
from custos.core.tenancy import enter_tenant

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        ip = client_ip(request)
        use = token_use(token.strip(), ip=ip, user_agent=request.headers.get("User-Agent", ""))
        if use is None:
            if throttle.token_failure_blocked(ip):
                raise HttpError(429, "too many failed token attempts")
            return None
        actor = use.actor
        if request.method not in SAFE_METHODS and all(is_read(p) for p in actor.permissions):
            # Refuse before the body is even parsed: a read-only token learns nothing more.
            raise HttpError(403, "read-only token")
        enter_tenant(actor.org_id)
        if use.record_use:
            with transaction.atomic():
                if token_mark_used(use.token_id):
                    audit_record(actor=actor, action="token.use", object_type="token", object_id=use.token_id)
        return actor
