"""Counting attempts per account and per network address.

Keys are keyed hashes, so the table holds neither an email nor an IP. Each attempt is
counted before the password or code is checked, atomically, so a burst of concurrent
guesses cannot slip past the limit.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from custos.accounts.models import ThrottleCounter
from custos.core.net import network_of


class Block(StrEnum):
    ACCOUNT = "account"
    NETWORK = "network"


def _key(kind: str, value: str) -> str:
    return salted_hmac("custos.throttle", f"{kind}|{value.strip().lower()}", algorithm="sha256").hexdigest()


def _count(key: str) -> int:
    row = ThrottleCounter.objects.filter(key=key, expires_at__gt=timezone.now()).values_list("count", flat=True)
    return row.first() or 0


def _bump(key: str, window: int) -> int:
    """Add one attempt in the window that the first attempt opened; returns the new count."""
    now = timezone.now()
    with transaction.atomic():
        row = ThrottleCounter.objects.select_for_update().filter(key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    ThrottleCounter.objects.create(key=key, count=1, expires_at=now + timedelta(seconds=window))
                return 1
            except IntegrityError:  # a concurrent first attempt created it
                row = ThrottleCounter.objects.select_for_update().get(key=key)
        if row.expires_at <= now:
            row.count, row.expires_at = 1, now + timedelta(seconds=window)
        else:
            row.count += 1
        row.save(update_fields=["count", "expires_at"])
        return row.count


def sign_in_blocked(email: str, ip: str | None) -> Block | None:
    """Whether sign-in is blocked now, without counting anything."""
    if _count(_key("account", email)) >= settings.CUSTOS_LOGIN_MAX_FAILURES:
        return Block.ACCOUNT
    if ip and _count(_key("ip", network_of(ip))) >= settings.CUSTOS_LOGIN_MAX_FAILURES_PER_IP:
        return Block.NETWORK
    return None


def sign_in_attempt(email: str, ip: str | None) -> Block | None:
    """Count an attempt on the account before checking it; a block when over the limit."""
    if ip and _count(_key("ip", network_of(ip))) >= settings.CUSTOS_LOGIN_MAX_FAILURES_PER_IP:
        return Block.NETWORK
    if _bump(_key("account", email), settings.CUSTOS_LOGIN_LOCKOUT_SECONDS) > settings.CUSTOS_LOGIN_MAX_FAILURES:
        return Block.ACCOUNT
    return None


def sign_in_failed(email: str, ip: str | None) -> None:
    """The attempt failed: it also counts against the network address."""
    if ip:
        _bump(_key("ip", network_of(ip)), settings.CUSTOS_LOGIN_LOCKOUT_SECONDS)


def sign_in_succeeded(email: str) -> None:
    ThrottleCounter.objects.filter(key=_key("account", email)).delete()


def token_failure_blocked(ip: str | None, *, limit: int = 30, window: int = 60) -> bool:
    """Count a failed bearer-token attempt; True once the address exceeds the limit."""
    if not ip:
        return False
    return _bump(_key("token", network_of(ip)), window) > limit


def rate_exceeded(bucket: str, who: str, *, limit: int, window: int) -> bool:
    """A plain rate limit: True once `who` has used `bucket` more than `limit` times."""
    return _bump(_key(f"rate:{bucket}", who), window) > limit


def prune_expired() -> int:
    deleted, _ = ThrottleCounter.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
