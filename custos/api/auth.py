"""Bearer tokens: the token names the member and the organisation."""

from __future__ import annotations

import contextlib
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer

from custos.accounts import throttle
from custos.accounts.access import Rider, token_use
from custos.accounts.permissions import is_read
from custos.accounts.services import token_mark_used
from custos.audit.services import audit_record
from custos.core.actor import Actor
from custos.core.net import client_ip
from custos.core.tenancy import enter_tenant

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    def __init__(self, rider: Callable[[HttpRequest], Rider | None] | None = None) -> None:
        """`rider`, for the hottest operation: the read its view needs, made in the token's
        statement; the view finds the rows with `ridden`."""
        super().__init__()
        self.rider = rider

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        ip = client_ip(request)
        rider = self.rider(request) if self.rider is not None else None
        use = token_use(token.strip(), ip=ip, user_agent=request.headers.get("User-Agent", ""), rider=rider)
        if use is None:
            if throttle.token_failure_blocked(ip):
                raise HttpError(429, "too many failed token attempts")
            return None
        actor = use.actor
        if request.method not in SAFE_METHODS and all(is_read(p) for p in actor.permissions):
            # Refuse before the body is even parsed: a read-only token learns nothing more.
            raise HttpError(403, "read-only token")
        enter_tenant(actor.org_id)
        if actor.time_zone:
            # Moments without an offset are the member's, as on the web (ended by the middleware).
            with contextlib.suppress(ValueError, zoneinfo.ZoneInfoNotFoundError):
                timezone.activate(actor.time_zone)
        if use.record_use:
            with transaction.atomic():
                if token_mark_used(use.token_id):
                    audit_record(actor=actor, action="token.use", object_type="token", object_id=use.token_id)
        if use.ridden is not None:
            request.custos_ridden = use.ridden  # type: ignore[attr-defined]  # read by `ridden`
        return actor


def ridden(request: HttpRequest) -> list[tuple[Any, ...]] | None:
    """The rows the operation's rider read with the token (`None` when it rode nothing)."""
    return getattr(request, "custos_ridden", None)
