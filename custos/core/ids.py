"""Opaque, time-ordered identifiers."""

from __future__ import annotations

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
