"""Where layers above the privacy engine learn that a person's records changed.

The engine changes records through the declarations; derived data it cannot know about
(the search index, built by the CRM) is refreshed by callbacks those layers register at
start-up. Registration happens once, in an AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models

from custos.privacy.models import Subject

_records_changed: list[Callable[[Subject], None]] = []
_records_redacted: list[Callable[[type[models.Model], list[Any]], None]] = []
_processing_changed: list[Callable[[Subject], None]] = []
_key_labels: list[Callable[[type[models.Model], str], dict[str, str] | None]] = []


def on_records_changed(callback: Callable[[Subject], None]) -> None:
    if callback not in _records_changed:
        _records_changed.append(callback)


def records_changed(subject: Subject) -> None:
    for callback in _records_changed:
        callback(subject)


def on_records_redacted(callback: Callable[[type[models.Model], list[Any]], None]) -> None:
    if callback not in _records_redacted:
        _records_redacted.append(callback)


def records_redacted(model: type[models.Model], ids: list[Any]) -> None:
    """Other people's records whose text named an erased person were redacted in place."""
    for callback in _records_redacted:
        callback(model, ids)


def on_processing_changed(callback: Callable[[Subject], None]) -> None:
    if callback not in _processing_changed:
        _processing_changed.append(callback)


def processing_changed(subject: Subject) -> None:
    """What may be done with the person's data changed (restricted, lifted, an objection to
    profiling): what was derived by processing it (a lead's score) follows at once."""
    for callback in _processing_changed:
        callback(subject)


def on_key_labels(callback: Callable[[type[models.Model], str], dict[str, str] | None]) -> None:
    if callback not in _key_labels:
        _key_labels.append(callback)


def key_labels(model: type[models.Model], field: str) -> dict[str, str] | None:
    """For a field holding an object of values (a record's custom fields): each key's label, as
    the layer that defines the keys names it; None for any other field. Reports show the
    person "Allergies", not "allergies" inside a JSON text."""
    for callback in _key_labels:
        labels = callback(model, field)
        if labels is not None:
            return labels
    return None
