"""Where layers above the privacy engine learn that a person's records changed.

The engine changes records through the declarations; derived data it cannot know about
(the search index, built by the CRM) is refreshed by callbacks those layers register at
start-up. Registration happens once, in an AppConfig.ready().
"""

from __future__ import annotations

from collections.abc import Callable

from custos.privacy.models import Subject

_records_changed: list[Callable[[Subject], None]] = []


def on_records_changed(callback: Callable[[Subject], None]) -> None:
    if callback not in _records_changed:
        _records_changed.append(callback)


def records_changed(subject: Subject) -> None:
    for callback in _records_changed:
        callback(subject)
