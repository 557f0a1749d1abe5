"""Envelope encryption: master keys (outside the database) wrap per-organisation data keys.

Ciphertext format: ``v1.<data key version>.<base64url(nonce ‖ AES-GCM ciphertext)>``,
bound by its associated data to the column it belongs to, so a value copied into
another column or another organisation does not decrypt.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import uuid
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from custos.core.tenancy import require_org_id, tenant_scope

CIPHERTEXT_PREFIX = "v1."


class MasterKeyError(ImproperlyConfigured):
    pass


class DecryptionError(ValueError):
    """A ciphertext that does not open: wrong key, wrong place, or altered."""


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@functools.cache
def master_keys() -> dict[str, bytes]:
    """The configured master keys by id, the current one first."""
    keys: dict[str, bytes] = {}
    for position, text in enumerate(settings.CUSTOS_MASTER_KEYS):
        try:
            key = _b64decode(text.strip())
        except ValueError:
            key = b""
        if len(key) != 32:
            raise MasterKeyError(f"CUSTOS_MASTER_KEY entry {position + 1} is not 32 bytes of URL-safe base64")
        keys[master_key_id(key)] = key
    if not keys:
        raise MasterKeyError("CUSTOS_MASTER_KEY is empty")
    return keys


def master_key_id(key: bytes) -> str:
    return hashlib.sha256(b"custos master key id" + key).hexdigest()[:16]


def current_master_key() -> tuple[str, bytes]:
    return next(iter(master_keys().items()))


def _wrap_aad(org_id: uuid.UUID, version: int) -> bytes:
    return f"custos data key|{org_id}|{version}".encode()


def wrap_data_key(key: bytes, *, org_id: uuid.UUID, version: int) -> tuple[str, str]:
    master_id, master = current_master_key()
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, key, _wrap_aad(org_id, version))
    return master_id, _b64encode(nonce + sealed)


def unwrap_data_key(wrapped: str, *, master_id: str, org_id: uuid.UUID, version: int) -> bytes:
    master = master_keys().get(master_id)
    if master is None:
        raise MasterKeyError(
            f"The data key of organisation {org_id} (version {version}) is wrapped by master "
            f"key {master_id}, which is not configured in CUSTOS_MASTER_KEY"
        )
    raw = _b64decode(wrapped)
    try:
        return AESGCM(master).decrypt(raw[:12], raw[12:], _wrap_aad(org_id, version))
    except InvalidTag:
        raise DecryptionError(f"data key {org_id}/{version} does not open") from None


# Unwrapped keys live in process memory only, never in the database.
_data_keys: dict[tuple[uuid.UUID, int], bytes] = {}
_active_versions: dict[uuid.UUID, int] = {}


def forget_keys(org_id: uuid.UUID | None = None) -> None:
    for cached in list(_data_keys):
        if org_id is None or cached[0] == org_id:
            del _data_keys[cached]
    for org in list(_active_versions):
        if org_id is None or org == org_id:
            del _active_versions[org]


def create_data_key(org_id: uuid.UUID) -> int:
    """A new data key for the organisation; it becomes the one new values use."""
    from custos.core.models import DataKey

    with tenant_scope(org_id), transaction.atomic():
        latest = DataKey.objects.order_by("-version").values_list("version", flat=True).first()
        version = (latest or 0) + 1
        key = AESGCM.generate_key(bit_length=256)
        master_id, wrapped = wrap_data_key(key, org_id=org_id, version=version)
        DataKey.objects.create(version=version, wrapped=wrapped, master_key_id=master_id)

        def remember() -> None:
            _data_keys[(org_id, version)] = key
            _active_versions[org_id] = version

        # Only a stored key may encrypt: if the transaction rolls back, nothing was cached.
        transaction.on_commit(remember)
    return version


def _data_key(org_id: uuid.UUID, version: int) -> bytes:
    cached = _data_keys.get((org_id, version))
    if cached is not None:
        return cached
    from custos.core.models import DataKey

    with tenant_scope(org_id):
        row = DataKey.objects.filter(version=version).first()
    if row is None:
        raise DecryptionError(f"organisation {org_id} has no data key version {version}")
    key = unwrap_data_key(row.wrapped, master_id=row.master_key_id, org_id=org_id, version=version)
    _data_keys[(org_id, version)] = key
    return key


def _active_version(org_id: uuid.UUID) -> int:
    version = _active_versions.get(org_id)
    if version is None:
        from custos.core.models import DataKey

        with tenant_scope(org_id):
            version = DataKey.objects.order_by("-version").values_list("version", flat=True).first()
        if version is None:
            return create_data_key(org_id)  # cached once its transaction commits
        _active_versions[org_id] = version
    return version


def encrypt(plaintext: str, *, aad: str, org_id: uuid.UUID | None = None) -> str:
    org_id = org_id or require_org_id()
    version = _active_version(org_id)
    nonce = os.urandom(12)
    sealed = AESGCM(_data_key(org_id, version)).encrypt(nonce, plaintext.encode(), f"{org_id}|{aad}".encode())
    return f"{CIPHERTEXT_PREFIX}{version}.{_b64encode(nonce + sealed)}"


def decrypt(ciphertext: str, *, aad: str, org_id: uuid.UUID | None = None) -> str:
    org_id = org_id or require_org_id()
    try:
        prefix, version_text, body = ciphertext.split(".", 2)
        version = int(version_text)
        raw = _b64decode(body)
    except ValueError:
        raise DecryptionError("not a Custos ciphertext") from None
    if prefix + "." != CIPHERTEXT_PREFIX:
        raise DecryptionError("unknown ciphertext format")
    try:
        plain = AESGCM(_data_key(org_id, version)).decrypt(raw[:12], raw[12:], f"{org_id}|{aad}".encode())
    except InvalidTag:
        raise DecryptionError("the value does not open in this place") from None
    return plain.decode()


def derived_key(purpose: str, *, org_id: uuid.UUID | None = None) -> bytes:
    """A key for one purpose (blind index, audit chain), derived from the first data key.

    The first data key outlives master-key rotation, so derived values stay stable.
    """
    org_id = org_id or require_org_id()
    _active_version(org_id)  # makes sure a first key exists
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(_data_key(org_id, 1))


def blind_index(value: str, *, purpose: str, org_id: uuid.UUID | None = None) -> str:
    """A keyed hash that finds an exact value without storing or revealing it."""
    return blind_indexer(purpose=purpose, org_id=org_id)(value)


def blind_indexer(*, purpose: str, org_id: uuid.UUID | None = None) -> Callable[[str], str]:
    """`blind_index` for many values: the key is derived once (an import's batch)."""
    key = derived_key(f"custos blind index|{purpose}", org_id=org_id)
    return lambda value: hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def rewrap_data_keys(org_id: uuid.UUID) -> int:
    """Re-wrap the organisation's data keys not yet under the current master key.

    Old and new master keys are both configured while this runs, so every process keeps
    reading and writing throughout: rotation needs no downtime.
    """
    from custos.core.models import DataKey

    current_id, _ = current_master_key()
    count = 0
    with tenant_scope(org_id), transaction.atomic():
        for row in DataKey.objects.select_for_update().exclude(master_key_id=current_id):
            key = unwrap_data_key(row.wrapped, master_id=row.master_key_id, org_id=org_id, version=row.version)
            row.master_key_id, row.wrapped = wrap_data_key(key, org_id=org_id, version=row.version)
            row.save(update_fields=["master_key_id", "wrapped"])
            count += 1
    return count


def data_key_wrappers(org_id: uuid.UUID) -> dict[str, int]:
    """How many of the organisation's data keys each master key wraps."""
    from custos.core.models import DataKey

    counts: dict[str, int] = {}
    with tenant_scope(org_id):
        for master_id in DataKey.objects.values_list("master_key_id", flat=True):
            counts[master_id] = counts.get(master_id, 0) + 1
    return counts


# Platform secrets (a user's TOTP seed) belong to no organisation: they are sealed
# directly under a master key and re-sealed by `custos keys rotate`.
PLATFORM_PREFIX = "m1."


def seal_platform(plaintext: str, *, aad: str) -> str:
    master_id, master = current_master_key()
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, plaintext.encode(), f"platform|{aad}".encode())
    return f"{PLATFORM_PREFIX}{master_id}.{_b64encode(nonce + sealed)}"


def open_platform(ciphertext: str, *, aad: str) -> str:
    try:
        prefix, master_id, body = ciphertext.split(".", 2)
        raw = _b64decode(body)
    except ValueError:
        raise DecryptionError("not a sealed platform secret") from None
    master = master_keys().get(master_id)
    if prefix + "." != PLATFORM_PREFIX or master is None:
        raise MasterKeyError(f"platform secret sealed by unknown master key {master_id}")
    try:
        return AESGCM(master).decrypt(raw[:12], raw[12:], f"platform|{aad}".encode()).decode()
    except InvalidTag:
        raise DecryptionError("the platform secret does not open") from None


def platform_sealed_by(ciphertext: str) -> str:
    """The id of the master key that sealed this platform secret."""
    return ciphertext.removeprefix(PLATFORM_PREFIX).split(".", 1)[0]


def platform_sealed_by_current(ciphertext: str) -> bool:
    return platform_sealed_by(ciphertext) == current_master_key()[0]
