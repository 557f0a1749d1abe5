"""Shared field types."""

from __future__ import annotations

from typing import Any

from django.db import models

from custos.core import crypto


class EncryptedField:
    """Marker: the column holds ciphertext only (see custos.core.crypto)."""


class EncryptedTextField(EncryptedField, models.TextField):  # type: ignore[type-arg]
    """Text stored AES-GCM encrypted under the organisation's data key.

    It cannot be searched or compared in SQL; where an exact-value lookup is needed,
    store a `crypto.blind_index` beside it.
    """

    def _aad(self) -> str:
        return f"{self.model._meta.label}.{self.name}"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.decrypt(value, aad=self._aad())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value), aad=self._aad())

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise NotImplementedError(f"encrypted fields cannot be queried with {lookup_name!r}")
        return super().get_lookup(lookup_name)
