"""Erase means erase, down to the storage: after an erasure has committed, none of the
person's identifying values is left in the database's bytes (SQLite: the file and its
WAL; PostgreSQL: a full pg_dump), and a restored backup does not bring the person back.

These tests commit for real (`transactional_db`). On SQLite, the test database is moved
from memory into a WAL-mode file for the test, so that the file is what gets read.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import contact_create
from custos.privacy.models import Subject
from custos.privacy.services.erasure import subject_erase
from custos.privacy.services.journal import journal_entries, journal_path
from custos.testing import Cast, run_tasks

FIRST, LAST = "Quintessa", "Varnholt"
EMAIL = "quintessa.varnholt@example.org"
PHONE_DIGITS = "98765432"
IDENTIFYING = [f"{FIRST} {LAST}", FIRST, LAST, EMAIL, "quintessa.varnholt", PHONE_DIGITS]


@pytest.fixture
def database_file(transactional_db: None, tmp_path: Path) -> Iterator[Path | None]:
    """SQLite: the in-memory test database copied into a file that this test uses instead."""
    if connection.vendor != "sqlite":
        yield None
        return
    path = tmp_path / "custos.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as target:
        connection.connection.backup(target)
    target.close()
    memory, name = connection.connection, connection.settings_dict["NAME"]
    # Held aside, not closed: closing the last connection would drop the in-memory database.
    connection.connection = None
    connection.settings_dict["NAME"] = str(path)
    try:
        yield path
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = memory


def _person(cast: Cast) -> Contact:
    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        person = contact_create(
            actor=actor,
            data={"first_name": FIRST, "last_name": LAST, "email": EMAIL, "phone": f"+49 30 {PHONE_DIGITS}"},
        )
        contact_create(
            actor=actor,
            data={
                "first_name": "Bertram",
                "last_name": "Ohlsdorf",
                "notes": f"Met {FIRST} {LAST} at the fair; reach her at {EMAIL} or 030 {PHONE_DIGITS}.",
            },
        )
    return person


def _erase(cast: Cast, person: Contact) -> None:
    with tenant_scope(cast.org_a):
        subject_erase(actor=cast.actor(cast.olive), subject=person.subject)
    run_tasks()  # the worker's part (PostgreSQL: VACUUM), outside any tenant scope as in the worker


def _sqlite_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _pg_dump() -> bytes:
    if shutil.which("pg_dump") is None:
        pytest.fail("pg_dump is not installed: install the PostgreSQL client matching the server")
    db = connection.settings_dict
    command = ["pg_dump", "--no-owner", "--dbname", db["NAME"]]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            command += [flag, str(db[key])]
    env = {"PGPASSWORD": str(db.get("PASSWORD") or "")}
    done = subprocess.run(command, capture_output=True, env=env, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def _storage_bytes(path: Path | None) -> bytes:
    return _sqlite_bytes(path) if path is not None else _pg_dump()


def _traces(data: bytes) -> list[str]:
    lowered = data.lower()
    return [value for value in IDENTIFYING if value.encode() in data or value.lower().encode() in lowered]


def test_the_values_are_in_storage_before_the_erasure(database_file: Path | None, cast: Cast) -> None:
    """The check below can see: before erasing, every value is found where it is read."""
    _person(cast)
    if database_file is not None:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    assert _traces(_storage_bytes(database_file)) == IDENTIFYING


def test_an_erased_person_leaves_no_trace_in_storage(database_file: Path | None, cast: Cast) -> None:
    person = _person(cast)

    _erase(cast, person)

    assert _traces(_storage_bytes(database_file)) == []
    with tenant_scope(cast.org_a):
        other = Contact.objects.get(last_name="Ohlsdorf")
    assert FIRST not in other.notes
    assert "[…]" in other.notes


def test_sqlite_connections_overwrite_deleted_content(database_file: Path | None, cast: Cast) -> None:
    if database_file is None:
        pytest.skip("SQLite's secure_delete")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA secure_delete")
        (secure_delete,) = cursor.fetchone()
        cursor.execute("PRAGMA journal_mode")
        (journal_mode,) = cursor.fetchone()

    assert (secure_delete, journal_mode) == (1, "wal")


def test_the_search_index_removes_deleted_terms_where_sqlite_can(database_file: Path | None, cast: Cast) -> None:
    if database_file is None:
        pytest.skip("SQLite's FTS5 index")
    if sqlite3.sqlite_version_info < (3, 42, 0):
        pytest.skip(f"FTS5 secure-delete needs SQLite 3.42; this is {sqlite3.sqlite_version} (erasure merges instead)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT v FROM search_entry_fts_config WHERE k = 'secure-delete'")
        assert cursor.fetchone() == (1,)


def test_the_slow_clean_up_runs_in_the_worker_with_table_names_only(database_file: Path | None, cast: Cast) -> None:
    """PostgreSQL: VACUUM; SQLite before 3.42 (no FTS5 secure-delete): the index merge."""
    if settings.REDIS_URL:
        pytest.skip("reads the database task backend's results")
    from django_tasks_db.models import DBTaskResult

    person = _person(cast)
    expected = connection.vendor == "postgresql" or sqlite3.sqlite_version_info < (3, 42, 0)

    _erase(cast, person)

    done = DBTaskResult.objects.filter(task_path="custos.privacy.tasks.clean_storage")
    if not expected:
        assert not done.exists()
        return
    (result,) = done
    assert result.status == "SUCCESSFUL"
    (tables,) = result.args_kwargs["args"]
    assert {Contact._meta.db_table, "search_searchentry"} <= set(tables)
    assert _traces(json.dumps(result.args_kwargs).encode()) == []
    if connection.vendor == "sqlite":
        # The search index, and the index erasure finds mentions with, over the contacts.
        assert sorted(result.return_value) == ['"privacy_mentions_crm_contact"', '"search_entry_fts"']
    else:
        assert Contact._meta.db_table in result.return_value


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="VACUUM is PostgreSQL's")
def test_postgres_vacuums_the_tables_the_erasure_touched(database_file: Path | None, cast: Cast) -> None:
    person = _person(cast)

    _erase(cast, person)

    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL")
        vacuumed = {row[0] for row in cursor.fetchall()}
    assert {Contact._meta.db_table, Subject._meta.db_table, "search_searchentry"} <= vacuumed


def test_the_erasure_is_journalled_with_ids_only(database_file: Path | None, cast: Cast) -> None:
    person = _person(cast)

    _erase(cast, person)

    path = journal_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [json.loads(line).keys() for line in path.read_text().splitlines()] == [{"org", "subject", "erased_at"}]
    assert [(e.org_id, e.subject_id) for e in journal_entries()] == [(cast.org_a.pk, person.subject_id)]
    assert _traces(path.read_bytes()) == []


def _backup_tools_work() -> bool:
    if connection.vendor == "sqlite":
        return True
    return shutil.which("pg_dump") is not None and shutil.which("pg_restore") is not None


def test_a_restored_backup_does_not_bring_an_erased_person_back(
    database_file: Path | None, cast: Cast, tmp_path: Path
) -> None:
    if not _backup_tools_work():
        pytest.skip("pg_dump / pg_restore are not installed")
    person = _person(cast)
    backup = tmp_path / "backup.tar"
    call_command("backup", output=str(backup))
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    _erase(cast, person)
    with tenant_scope(cast.org_a):
        later = contact_create(actor=cast.actor(cast.olive), data={"first_name": "Late", "last_name": "Arrival"})

    call_command("restore", str(backup))
    run_tasks()

    with tenant_scope(cast.org_a):
        # The backup is what came back (a contact made after it is gone) …
        assert not Contact.objects.filter(pk=later.pk).exists()
        assert Contact.objects.filter(last_name="Ohlsdorf").exists()
        # … except the person erased since, erased again before `restore` returned.
        assert Subject.objects.get(pk=person.subject_id).state == Subject.State.ERASED
        restored = Contact.objects.get(pk=person.pk)
        assert (restored.first_name, restored.last_name, restored.email) == ("", "", "")
    assert _traces(_storage_bytes(database_file)) == []


def test_a_person_erased_before_the_backup_stays_erased_and_is_not_erased_twice(
    database_file: Path | None, cast: Cast, tmp_path: Path
) -> None:
    if not _backup_tools_work():
        pytest.skip("pg_dump / pg_restore are not installed")
    person = _person(cast)
    _erase(cast, person)
    backup = tmp_path / "backup.tar"
    call_command("backup", output=str(backup))

    call_command("restore", str(backup))

    with tenant_scope(cast.org_a):
        assert Subject.objects.get(pk=person.subject_id).state == Subject.State.ERASED
    # Only the one erasure: nothing was after the backup, so nothing was replayed.
    assert len(list(journal_entries())) == 1


def test_restore_refuses_a_file_that_is_not_a_backup(database_file: Path | None, cast: Cast, tmp_path: Path) -> None:
    from django.core.management.base import CommandError

    bogus = tmp_path / "not-a-backup.tar"
    bogus.write_bytes(b"")
    _person(cast)

    with pytest.raises(CommandError):
        call_command("restore", str(bogus))

    with tenant_scope(cast.org_a):
        assert Contact.objects.filter(last_name=LAST).exists()
    assert Path(settings.VAR_DIR).is_dir()


def test_a_hold_released_after_the_backup_does_not_keep_the_person_from_erasure_on_restore(
    database_file: Path | None, cast: Cast, tmp_path: Path
) -> None:
    if not _backup_tools_work():
        pytest.skip("pg_dump / pg_restore are not installed")
    from custos.privacy.models import LegalHold
    from custos.privacy.services.retention import legal_hold_create, legal_hold_release

    person = _person(cast)
    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        hold = legal_hold_create(actor=actor, data={"subject": str(person.subject_id), "reason": "Court case 12/34"})
    backup = tmp_path / "backup.tar"
    call_command("backup", output=str(backup))
    with tenant_scope(cast.org_a):
        legal_hold_release(actor=actor, hold=hold)
    _erase(cast, person)

    call_command("restore", str(backup))

    with tenant_scope(cast.org_a):
        assert Subject.objects.get(pk=person.subject_id).state == Subject.State.ERASED
        assert LegalHold.objects.get(pk=hold.pk).released_at is not None


def test_a_restored_backup_does_not_bring_a_deleted_organisation_back(
    database_file: Path | None, cast: Cast, tmp_path: Path
) -> None:
    """Its rows and its data keys are in the backup: deleted again before `restore` returns."""
    from datetime import timedelta

    from django.utils import timezone

    from custos.accounts.offboarding import offboard_due
    from custos.core.models import DataKey, DeletionCertificate, Organization

    if not _backup_tools_work():
        pytest.skip("pg_dump / pg_restore are not installed")
    _person(cast)
    backup = tmp_path / "backup.tar"
    call_command("backup", output=str(backup))
    call_command("tenant", "offboard", "--org", cast.org_a.slug, "--export", str(tmp_path / "a.zip"), stdout=None)
    offboard_due(now=timezone.now() + timedelta(days=31))

    call_command("restore", str(backup))

    assert not Organization.objects.filter(pk=cast.org_a.pk).exists()
    assert not DataKey.objects.unscoped().filter(org_id=cast.org_a.pk).exists()
    assert not Contact.objects.unscoped().filter(org_id=cast.org_a.pk).exists()
    assert Organization.objects.filter(pk=cast.org_b.pk).exists()
    assert DeletionCertificate.objects.filter(org_id=cast.org_a.pk).count() == 1  # the one of the second deletion
    assert _traces(_storage_bytes(database_file)) == []
