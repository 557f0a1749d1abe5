"""The client's address, as the server (or the trusted proxy in front of it) sees it."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    candidate = request.META.get("REMOTE_ADDR", "")
    if settings.HTTPS:
        # Behind the TLS proxy the operator runs: it appends the client address last.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            candidate = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
