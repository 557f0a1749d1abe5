"""Tenant offboarding: a complete export, a grace period, then irrecoverable deletion.

Deletion removes every row of the organisation from every tenant table (found from the
models, not listed by hand), its memberships and tokens, staff accounts that belong to no
other organisation, its data keys, and its files (found by their folder, after the commit).
A certificate records what was deleted. An older backup still holds all of it, keys
included: the deletion is journalled beside the database, and `custos restore` deletes the
organisation again before anything is served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.accounts.hooks import organization_deleted
from custos.accounts.models import ApiToken, Membership, User
from custos.audit.services import audit_record
from custos.core import crypto
from custos.core.actor import Actor
from custos.core.errors import Conflict
from custos.core.journals import journal_read, journal_write
from custos.core.models import DataKey, DeletionCertificate, Organization
from custos.core.tenancy import TenantModel, tenant_models, tenant_scope

GRACE = dt.timedelta(days=30)
# Keys and the audit chain are the organisation's machinery, not its data: not exported.
_NOT_EXPORTED = ("core.DataKey", "audit.AuditHead")


def offboarding_start(*, org: Organization, now: dt.datetime | None = None) -> Organization:
    """The contract ended: deletion is scheduled after the grace period."""
    now = now or timezone.now()
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=org.pk)
        if org.offboarding_since is None:
            org.offboarding_since = now
            org.delete_after = now + GRACE
            org.save(update_fields=["offboarding_since", "delete_after"])
            with tenant_scope(org):
                audit_record(
                    actor=Actor.system(org.pk),
                    action="organization.offboard",
                    object_type="organization",
                    object_id=org.pk,
                )
    return org


def offboarding_cancel(*, org: Organization) -> Organization:
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=org.pk)
        org.offboarding_since = None
        org.delete_after = None
        org.save(update_fields=["offboarding_since", "delete_after"])
        with tenant_scope(org):
            audit_record(
                actor=Actor.system(org.pk),
                action="organization.offboard_cancel",
                object_type="organization",
                object_id=org.pk,
            )
    return org


def _rows(model: type[TenantModel]) -> list[dict[str, Any]]:
    names = [f.attname for f in model._meta.concrete_fields]
    return list(model.objects.order_by("pk").values(*names))


def organization_export(org: Organization) -> bytes:
    """Everything the organisation holds, readable: one JSON file per record type in a ZIP."""
    buffer = io.BytesIO()
    with tenant_scope(org), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        manifest = {"organization": str(org.pk), "name": org.name, "exported_at": timezone.now(), "files": {}}
        for model in tenant_models():
            label = model._meta.label
            if label in _NOT_EXPORTED:
                continue
            rows = _rows(model)
            name = f"{label}.json"
            archive.writestr(name, json.dumps(rows, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1))
            manifest["files"][name] = len(rows)  # type: ignore[index]
        archive.writestr("manifest.json", json.dumps(manifest, cls=DjangoJSONEncoder, indent=1))
    return buffer.getvalue()


def _delete_rows(model: type[models.Model], org_id: Any) -> int:
    """A raw DELETE: foreign keys are deferred to the commit, by which time every table is
    empty of the organisation, so the order of tables does not matter."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        for m2m in model._meta.many_to_many:
            through: Any = m2m.remote_field.through  # always set on a concrete many-to-many
            if through._meta.auto_created:
                column = m2m.m2m_column_name()
                cursor.execute(
                    f"DELETE FROM {connection.ops.quote_name(through._meta.db_table)} "  # noqa: S608  # names from models
                    f"WHERE {connection.ops.quote_name(column)} IN (SELECT id FROM {table} WHERE org_id = %s)",
                    [org_id.hex if connection.vendor == "sqlite" else org_id],
                )
        cursor.execute(
            f"DELETE FROM {table} WHERE org_id = %s",  # noqa: S608  # the table name comes from the model
            [org_id.hex if connection.vendor == "sqlite" else org_id],
        )
        return int(cursor.rowcount)


@contextmanager
def _as_owner_inside(org: Organization) -> Iterator[None]:
    """The tables' owner, with the organisation's rows in sight. Outside a tenant scope the
    connection is the owner's, which may delete the audit rows the application role can only
    append to; row-level security is forced on the owner too, so on PostgreSQL the policy's
    setting names the organisation for the length of this block."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # let the backend settle on "no tenant" (the owner) first
        cursor.execute("SELECT set_config('custos.org_id', %s, true)", [str(org.pk)])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('custos.org_id', '', true)")


logger = logging.getLogger(__name__)
DELETIONS = "organizations_deleted.jsonl"


def organization_folders(org_id: uuid.UUID) -> list[Path]:
    """The folders of the organisation's files: whatever an organisation keeps on disk (import
    uploads not yet read, and their dry runs' memory) lives in `MEDIA_ROOT/<kind>/<org id>/`."""
    return sorted(folder for folder in Path(settings.MEDIA_ROOT).glob(f"*/{org_id}") if folder.is_dir())


def _emptied_tables() -> list[str]:
    models_emptied: list[type[models.Model]] = [*tenant_models(), ApiToken, Membership, User, Organization, DataKey]
    tables = {model._meta.db_table for model in models_emptied}
    for model in models_emptied:
        tables.update(f.m2m_db_table() for f in model._meta.local_many_to_many)
    return sorted(tables)


def organization_delete(
    *, org: Organization, now: dt.datetime | None = None, journal: bool = True
) -> DeletionCertificate:
    """Delete the organisation irrecoverably, once its grace period is over; journalled beside
    the database, so that restoring an older backup deletes it again (`deletions_replay`)."""
    now = now or timezone.now()
    if org.delete_after is None or org.delete_after > now:
        raise Conflict(_("This organisation is not due for deletion."))
    counts: dict[str, int] = {}
    with transaction.atomic():
        with _as_owner_inside(org):
            keys = DataKey.objects.unscoped().filter(org_id=org.pk).count()
            for model in tenant_models():
                deleted = _delete_rows(model, org.pk)
                if deleted:
                    counts[model._meta.label] = deleted
        staff = list(Membership.objects.filter(org=org).values_list("user_id", flat=True))
        counts["accounts.ApiToken"] = ApiToken.objects.filter(org=org).delete()[0]
        counts["accounts.Membership"] = Membership.objects.filter(org=org).delete()[0]
        alone = User.objects.filter(pk__in=staff, memberships__isnull=True, is_staff=False)
        counts["accounts.User"] = alone.delete()[0]
        User.objects.filter(last_organization=org).update(last_organization=None)
        since = org.offboarding_since or now
        org_id, name = org.pk, org.name
        Organization.objects.filter(pk=org.pk).delete()
        statement = json.dumps(
            {"org": str(org_id), "name": name, "deleted_at": now.isoformat(), "rows": counts, "keys": keys},
            sort_keys=True,
        )
        certificate = DeletionCertificate.objects.create(
            org_id=org_id,
            org_name=name,
            offboarding_since=since,
            deleted_at=now,
            rows_deleted=counts,
            keys_destroyed=keys,
            digest=hashlib.sha256(statement.encode()).hexdigest(),
        )
    crypto.forget_keys(org_id)
    if journal:
        # First, and dated after the commit, as erasures are: a backup taken meanwhile is older.
        journal_write(DELETIONS, {"org": str(org_id), "deleted_at": timezone.now().isoformat()})
    for folder in organization_folders(org_id):
        try:
            shutil.rmtree(folder)
        except OSError:
            logger.exception("removing a folder of deleted organisation %s failed", org_id)
    try:
        organization_deleted(_emptied_tables())
    except Exception:
        # The deletion stands and is journalled; what cleans up after it is retried by the
        # storage job. Ids only in the log.
        logger.exception("clean-up after deleting organisation %s failed", org_id)
    return certificate


def deletions_replay(*, after: dt.datetime) -> list[DeletionCertificate]:
    """Delete again every organisation deleted after the given time (when a restored backup was
    taken): the backup holds its rows and its keys, the journal says they were to be gone."""
    again: list[DeletionCertificate] = []
    for record in journal_read(DELETIONS):
        try:
            org_id, deleted_at = record["org"], dt.datetime.fromisoformat(record["deleted_at"])
        except (KeyError, TypeError, ValueError):
            continue
        org = Organization.objects.filter(pk=org_id).first() if deleted_at > after else None
        if org is None:
            continue
        now = timezone.now()
        Organization.objects.filter(pk=org.pk).update(delete_after=now)
        org.delete_after = now
        again.append(organization_delete(org=org, now=now, journal=False))
    return again


def offboard_due(now: dt.datetime | None = None) -> list[DeletionCertificate]:
    """The periodic job: every organisation past its grace period is deleted."""
    now = now or timezone.now()
    return [organization_delete(org=org, now=now) for org in Organization.objects.filter(delete_after__lte=now)]
