"""Opaque, time-ordered identifiers."""

from __future__ import annotations

import base64
import os
import time
import uuid


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): random, yet ordered by creation so B-tree inserts stay local."""
    unix_ms = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (random_bits >> 68) << 64  # 12 bits of rand_a
    value |= 0b10 << 62  # variant
    value |= random_bits & ((1 << 62) - 1)  # 62 bits of rand_b
    return uuid.UUID(int=value)


def org_token(org_id: uuid.UUID, secret: str) -> str:
    """A public token that names its organisation: 22 characters of the organisation id, then
    the secret. Row-level security hides a tenant's rows from a query with no organisation in
    context, so a public link must say which organisation to enter before its row is looked up."""
    return base64.urlsafe_b64encode(org_id.bytes).decode().rstrip("=") + secret


def org_of_token(token: str) -> uuid.UUID | None:
    """The organisation id a token of `org_token` names, or None for anything malformed."""
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(token[:22] + "=="))
    except (ValueError, TypeError):
        return None
