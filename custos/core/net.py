"""The client's address as the server (or the trusted proxy in front of it) sees it, where
a form may send the client next, and where a mail sends a member of staff."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlencode

from django.conf import settings
from django.core.signing import BadSignature, Signer
from django.http import HttpRequest
from django.utils.encoding import escape_uri_path
from django.utils.http import url_has_allowed_host_and_scheme


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


def network_of(ip: str) -> str:
    """Whom a rate limit counts: an IPv4 address, or the /64 an IPv6 address is in (one
    household or server is given a whole /64 and can take any address in it)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def local_path(request: HttpRequest, target: str) -> str | None:
    """A path on this site that a form asked to go to next, else None: never another site, and
    never a bare word, which Django's `redirect` would take for a view's name (a 500)."""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def staff_link(org_id: object, path: str) -> str:
    """A staff page's address for a mail, naming the organisation the page belongs to: a
    member of several organisations may be working in another when they open it, and the
    page is found only in its own (the staff UI then switches: OrganizationMiddleware).
    Signed with the path, so that only this server's mails switch anyone, never a link
    another site makes up."""
    org = str(org_id)
    return (
        f"{settings.CUSTOS_BASE_URL}{path}?{urlencode({'org': org, 'sig': _link_signer().signature(f'{org}:{path}')})}"
    )


def staff_link_organization(path: str, org: str, signature: str) -> str | None:
    """The organisation a `staff_link` names, if `signature` is the one it was made with for
    this path (as the request gives it, percent-encoded again); None otherwise."""
    signer = _link_signer()
    try:  # with the current secret key or a fallback (a key rotated since the mail went)
        signer.unsign(f"{org}:{escape_uri_path(path)}{signer.sep}{signature}")
    except BadSignature:
        return None
    return org


def _link_signer() -> Signer:
    return Signer(salt="custos.staff-link")
