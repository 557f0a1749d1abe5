"""The tenant wall: every tenant-owned row is reached through the current organisation.

The organisation lives in a context variable. Middleware sets it for web, API and
portal requests; `tenant_scope(org)` sets it for tasks and commands; both reset it in
`finally`. A tenant query without it raises instead of returning every tenant's rows.
On PostgreSQL the database backend mirrors it into row-level security (second wall).
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.db import models

from custos.core.ids import uuid7


class TenantContextMissing(RuntimeError):
    """A tenant-scoped query ran with no organisation in context."""


_current_org_id: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "custos_current_org_id", default=None
)


def current_org_id() -> uuid.UUID | None:
    return _current_org_id.get()


def require_org_id() -> uuid.UUID:
    org_id = _current_org_id.get()
    if org_id is None:
        raise TenantContextMissing(
            "No organisation in context: wrap the code in tenant_scope(org) "
            "or use .unscoped() where reaching across tenants is intended."
        )
    return org_id


@contextmanager
def tenant_scope(org: models.Model | uuid.UUID) -> Iterator[None]:
    """Run the block inside one organisation; the previous scope comes back afterwards."""
    org_id = org if isinstance(org, uuid.UUID) else org.pk
    token = _current_org_id.set(org_id)
    try:
        yield
    finally:
        _current_org_id.reset(token)


class TenantQuerySet(models.QuerySet[Any]):
    pass


class TenantManager(models.Manager[Any]):
    """Fail-closed manager: filters by the organisation in context, or raises."""

    def get_queryset(self) -> TenantQuerySet:
        return TenantQuerySet(self.model, using=self._db).filter(org_id=require_org_id())

    def bulk_create(self, objs: Iterable[Any], *args: Any, **kwargs: Any) -> list[Any]:
        org_id = require_org_id()
        objs = list(objs)
        for obj in objs:
            if obj.org_id is None:
                obj.org_id = org_id
            elif obj.org_id != org_id:
                raise TenantContextMissing("rows of another organisation cannot be created here")
        return super().bulk_create(objs, *args, **kwargs)

    def none(self) -> TenantQuerySet:
        """An empty queryset needs no tenant (form fields declare one at import time)."""
        return TenantQuerySet(self.model, using=self._db).none()

    def unscoped(self) -> TenantQuerySet:
        """Every tenant's rows. Named to stand out in review; keep its uses few."""
        return TenantQuerySet(self.model, using=self._db)


class TenantModel(models.Model):
    """Base of every tenant-owned model."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    org = models.ForeignKey("core.Organization", on_delete=models.CASCADE, related_name="+", editable=False)

    objects: ClassVar[TenantManager] = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        org_id = require_org_id()
        if self.org_id is None:
            self.org_id = org_id
        elif self.org_id != org_id:
            raise TenantContextMissing(f"{type(self).__name__} of another organisation cannot be saved here")
        super().save(*args, **kwargs)


def tenant_models() -> list[type[TenantModel]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


@contextmanager
def request_scope() -> Iterator[None]:
    """One request's tenant context: whatever it enters is undone when it ends."""
    token = _current_org_id.set(None)
    try:
        yield
    finally:
        _current_org_id.reset(token)


def enter_tenant(org_id: uuid.UUID) -> None:
    """Enter an organisation for the rest of the current `request_scope`.

    For authentication callbacks that learn the tenant half-way through a request.
    """
    _current_org_id.set(org_id)
