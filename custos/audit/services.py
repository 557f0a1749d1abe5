"""Writing to and checking the audit chain."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from custos.audit.models import AuditEntry, AuditHead
from custos.core import crypto
from custos.core.actor import Actor, Via
from custos.core.tenancy import require_org_id, tenant_scope

GENESIS = "0" * 64


def _chain_key(org_id: uuid.UUID) -> bytes:
    return crypto.derived_key("custos audit chain", org_id=org_id)


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _entry_payload(entry: AuditEntry) -> str:
    return json.dumps(
        {
            "org": str(entry.org_id),
            "seq": entry.seq,
            "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": str(entry.actor_user_id or ""),
            "via": entry.via,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "fields": entry.fields,
            "extra": entry.extra,
            "ip": entry.ip_digest,
            "ip_network": entry.ip_network_digest,
            "user_agent": entry.user_agent_digest,
            "prev": entry.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _ip_digest(key: bytes, seq: int, salt: str, ip: str | None) -> str:
    return _mac(key, f"ip|{seq}|{salt}|{ip}") if ip else ""


def _ip_network_digest(key: bytes, seq: int, ip: str | None) -> str:
    return _mac(key, f"ipnet|{seq}|{truncate_ip(ip)}") if ip else ""


def _user_agent_digest(key: bytes, seq: int, salt: str, user_agent: str) -> str:
    return _mac(key, f"ua|{seq}|{salt}|{user_agent}") if user_agent else ""


def _head_seal(key: bytes, seq: int, hash_: str) -> str:
    return _mac(key, f"head|{seq}|{hash_}")


def _check_values(fields: Iterable[str], extra: dict[str, Any]) -> None:
    """Only names and ids go into the log; a long free-form value is a bug."""
    for value in [*fields, *map(str, extra.values())]:
        if len(value) > 200:
            raise ValueError("audit entries carry names and ids, not values")


def audit_record(
    *,
    actor: Actor | None,
    action: str,
    object_type: str = "",
    object_id: object = "",
    fields: Iterable[str] = (),
    extra: dict[str, Any] | None = None,
    ip: str | None = None,
    user_agent: str = "",
) -> AuditEntry:
    """Append one entry to the current organisation's chain, in the caller's transaction."""
    org_id = require_org_id()
    fields = sorted(set(fields))
    extra = extra or {}
    _check_values(fields, extra)
    if actor is not None:
        ip = ip or actor.ip
        user_agent = user_agent or actor.user_agent
    key = _chain_key(org_id)
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(org_id=org_id).first()
        if head is None:
            head = AuditHead(seq=0, hash=GENESIS, seal=_head_seal(key, 0, GENESIS))
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            actor_user_id=actor.user_id if actor else None,
            via=str(actor.via if actor else Via.SYSTEM),
            action=action,
            object_type=object_type,
            object_id=str(object_id or ""),
            fields=fields,
            extra=extra,
            ip=ip or None,
            user_agent=(user_agent or "")[:300],
            prev_hash=head.hash,
        )
        entry.org_id = org_id
        entry.identifier_salt = secrets.token_hex(16) if entry.ip or entry.user_agent else ""
        entry.ip_digest = _ip_digest(key, entry.seq, entry.identifier_salt, entry.ip)
        entry.ip_network_digest = _ip_network_digest(key, entry.seq, entry.ip)
        entry.user_agent_digest = _user_agent_digest(key, entry.seq, entry.identifier_salt, entry.user_agent)
        entry.hash = _mac(key, _entry_payload(entry))
        entry.save(force_insert=True)
        adding = head._state.adding
        head.seq, head.hash = entry.seq, entry.hash
        head.seal = _head_seal(key, head.seq, head.hash)
        head.save(**({} if adding else {"update_fields": ["seq", "hash", "seal"]}))
    return entry


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    entry_id: str
    reason: str

    def __str__(self) -> str:
        where = f"entry #{self.seq}" + (f" ({self.entry_id})" if self.entry_id else "")
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Anchor:
    """A link seen intact before, kept outside the database by whoever verified it."""

    seq: int
    hash: str


def audit_head(org_id: uuid.UUID) -> Anchor | None:
    with tenant_scope(org_id):
        head = AuditHead.objects.first()
    return Anchor(head.seq, head.hash) if head else None


def audit_verify(org_id: uuid.UUID, *, anchor: Anchor | None = None, batch_size: int = 2000) -> ChainBreak | None:
    """The first broken link of the organisation's chain, or None when it is whole.

    With an anchor from an earlier verification, a chain rolled back to an older sealed
    end (entries cut off, an old head restored) is caught too.
    """
    key = _chain_key(org_id)
    with tenant_scope(org_id):
        expected_seq, prev_hash = 1, GENESIS
        last_seq = 0
        while True:
            batch = list(AuditEntry.objects.filter(seq__gte=expected_seq).order_by("seq")[:batch_size])
            for entry in batch:
                if entry.seq != expected_seq:
                    return ChainBreak(expected_seq, "", f"missing (the next entry is #{entry.seq})")
                if entry.prev_hash != prev_hash:
                    return ChainBreak(entry.seq, str(entry.pk), "does not link to the entry before it")
                if entry.hash != _mac(key, _entry_payload(entry)):
                    return ChainBreak(entry.seq, str(entry.pk), "content changed since it was written")
                if not _ip_intact(key, entry):
                    return ChainBreak(entry.seq, str(entry.pk), "IP address changed since it was written")
                if entry.user_agent and entry.user_agent_digest != _user_agent_digest(
                    key, entry.seq, entry.identifier_salt, entry.user_agent
                ):
                    return ChainBreak(entry.seq, str(entry.pk), "user agent changed since it was written")
                prev_hash, expected_seq, last_seq = entry.hash, entry.seq + 1, entry.seq
            if len(batch) < batch_size:
                break
        head = AuditHead.objects.first()
        if head is None:
            # Every organisation's chain starts when it is created: no end means it was removed.
            return ChainBreak(last_seq or 1, "", "the chain's sealed end is missing")
        if head.seal != _head_seal(key, head.seq, head.hash):
            return ChainBreak(head.seq, "", "the chain's sealed end was altered")
        if head.seq != last_seq or head.hash != prev_hash:
            return ChainBreak(
                last_seq + 1, "", f"entries after #{last_seq} are missing (the chain ends at #{head.seq})"
            )
        if anchor is not None:
            seen = AuditEntry.objects.filter(seq=anchor.seq).values_list("hash", flat=True).first()
            if seen != anchor.hash:
                return ChainBreak(
                    anchor.seq, "", "an entry verified earlier is gone or different (the chain was rolled back)"
                )
    return None


def _ip_intact(key: bytes, entry: AuditEntry) -> bool:
    if not entry.ip_truncated:
        return entry.ip_digest == _ip_digest(key, entry.seq, entry.identifier_salt, entry.ip)
    if entry.ip is None:
        return entry.ip_network_digest == ""  # there never was an address
    # Shortened: what is left must be a network address, and the network written then.
    return truncate_ip(entry.ip) == entry.ip and entry.ip_network_digest == _ip_network_digest(key, entry.seq, entry.ip)


def truncate_ip(ip: str) -> str:
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6."""
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
        ip = str(address)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def audit_truncate_old_ips(*, now: datetime | None = None) -> int:
    """Shorten IP addresses and drop user agents of entries older than the configured period."""
    from custos.core.models import Organization

    cutoff = (now or timezone.now()) - timedelta(days=settings.CUSTOS_AUDIT_IP_RETENTION_DAYS)
    done = 0
    for org_id in Organization.objects.values_list("pk", flat=True):
        with tenant_scope(org_id):
            while True:
                with transaction.atomic():
                    batch = list(
                        AuditEntry.objects.filter(at__lt=cutoff, ip_truncated=False)
                        .exclude(ip__isnull=True, user_agent="")
                        .only("id", "ip", "user_agent")
                        .order_by("seq")[:1000]
                    )
                    for entry in batch:
                        entry.ip = truncate_ip(entry.ip) if entry.ip else None
                        entry.ip_truncated = True
                        entry.user_agent = ""
                        entry.identifier_salt = ""  # without it the digests cannot be brute-forced
                    AuditEntry.objects.bulk_update(batch, ["ip", "ip_truncated", "user_agent", "identifier_salt"])
                done += len(batch)
                if len(batch) < 1000:
                    break
    return done


def audit_forget_visitor(*, object_ids: Iterable[object]) -> int:
    """An erased person's network address and browser, on the entries about their records,
    shortened and dropped at once rather than after the retention period (as above)."""
    ids = [str(i) for i in object_ids]
    entries = list(
        AuditEntry.objects.filter(Q(object_id__in=ids) | Q(extra__lead__in=ids))
        .exclude(ip__isnull=True, user_agent="")
        .only("id", "ip", "user_agent")
    )
    for entry in entries:
        entry.ip = truncate_ip(entry.ip) if entry.ip else None
        entry.ip_truncated = True
        entry.user_agent = ""
        entry.identifier_salt = ""
    AuditEntry.objects.bulk_update(entries, ["ip", "ip_truncated", "user_agent", "identifier_salt"])
    return len(entries)
