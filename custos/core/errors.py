"""Domain errors. Faces map them to HTTP in one place each (API: problem+json)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """Base of every error a domain function raises on purpose."""

    status = 400
    title = _("The request cannot be carried out.")

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail or str(self.title)


class NotFound(DomainError):
    """Missing and forbidden look the same from outside."""

    status = 404
    title = _("Not found.")


class PermissionDenied(DomainError):
    status = 403
    title = _("You do not have permission to do this.")

    def __init__(self, permission: str = "") -> None:
        super().__init__(str(self.title))
        self.permission = permission


class Conflict(DomainError):
    status = 409
    title = _("The request conflicts with the current state.")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str | None  # None: the error is about the whole item or body
    message: str
    index: int | None = None

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"field": self.field, "message": self.message}
        if self.index is not None:
            data = {"index": self.index, **data}
        return data


class ValidationFailed(DomainError):
    """Bad input: each error names its field; nothing was changed."""

    status = 422
    title = _("The input is not valid.")

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(str(self.title))
        self.errors = errors

    @classmethod
    def single(cls, field: str | None, message: str) -> ValidationFailed:
        return cls([FieldError(field=field, message=message)])
