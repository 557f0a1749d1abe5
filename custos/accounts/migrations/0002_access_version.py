"""The access versions and the triggers that change them (see `AccessVersion`).

On PostgreSQL the triggers are deferred to the commit of the change: the version row is then
the last lock a transaction takes, so two administrators' changes cannot deadlock on it with
the audit chain's head, and it is held only while committing. On SQLite, which writes one
transaction at a time, they run with the change.
"""

from django.db import migrations, models

# What a token's rights are read from, and which changes matter (None: every change). A token's
# `last_used_at`, written once a minute, and a user's sign-ins do not; a user's deactivation
# changes the versions of every organisation they are a member of.
WATCHED = {
    "apitoken": ("org_id", "user_id", "token_hash", "scopes", "expires_at", "revoked_at"),
    "membership": None,
    "role": None,
    "teammember": None,
}
SEQUENCE = "custos_access_version"


def _tables(apps):
    table = {name: apps.get_model("accounts", name)._meta.db_table for name in ("accessversion", "membership", "user")}
    return table["accessversion"], table["membership"], table["user"]


def _postgresql(apps):
    version, membership, user = _tables(apps)
    # Table names come from the models; nothing else varies.
    yield f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}"
    yield f"""
        CREATE OR REPLACE FUNCTION custos_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            orgs uuid[];
        BEGIN
            IF TG_TABLE_NAME = '{user}' THEN
                orgs := ARRAY(SELECT org_id FROM {membership} WHERE user_id = NEW.id);
            ELSIF TG_OP = 'INSERT' THEN
                orgs := ARRAY[NEW.org_id];
            ELSIF TG_OP = 'DELETE' THEN
                orgs := ARRAY[OLD.org_id];
            ELSE
                orgs := ARRAY[OLD.org_id, NEW.org_id];
            END IF;
            INSERT INTO {version} (org_id, version)
            SELECT changed, nextval('{SEQUENCE}') FROM (SELECT DISTINCT unnest(orgs) AS changed) AS d
            WHERE changed IS NOT NULL
            ON CONFLICT (org_id) DO UPDATE SET version = EXCLUDED.version;
            RETURN NULL;
        END $$
    """  # noqa: S608
    events = {name: "INSERT OR DELETE OR UPDATE" for name in WATCHED}
    events |= {name: f"INSERT OR DELETE OR UPDATE OF {', '.join(cols)}" for name, cols in WATCHED.items() if cols}
    events["user"] = "UPDATE OF is_active"
    for name, event in events.items():
        yield (
            f"CREATE CONSTRAINT TRIGGER custos_access_changed AFTER {event} "
            f"ON {apps.get_model('accounts', name)._meta.db_table} DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION custos_access_changed()"
        )


def _sqlite(apps):
    version, membership, user = _tables(apps)
    stamp = f"INSERT OR REPLACE INTO {version} (org_id, version) VALUES"  # noqa: S608
    for name, columns in WATCHED.items():
        table = apps.get_model("accounts", name)._meta.db_table
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        yield f"CREATE TRIGGER custos_access_{table}_insert AFTER INSERT ON {table} BEGIN {stamp} (NEW.org_id, random()); END"
        yield f"CREATE TRIGGER custos_access_{table}_delete AFTER DELETE ON {table} BEGIN {stamp} (OLD.org_id, random()); END"
        yield (
            f"CREATE TRIGGER custos_access_{table}_update AFTER {update} ON {table} "
            f"BEGIN {stamp} (OLD.org_id, random()); {stamp} (NEW.org_id, random()); END"
        )
    yield (
        f"CREATE TRIGGER custos_access_{user}_update AFTER UPDATE OF is_active ON {user} BEGIN "
        f"INSERT OR REPLACE INTO {version} (org_id, version) "
        f"SELECT org_id, random() FROM {membership} WHERE user_id = NEW.id; END"
    )


def install(apps, schema_editor):
    statements = _postgresql(apps) if schema_editor.connection.vendor == "postgresql" else _sqlite(apps)
    for statement in statements:
        schema_editor.execute(statement)


def remove(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for name in [*WATCHED, "user"]:
        table = apps.get_model("accounts", name)._meta.db_table
        if postgresql:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS custos_access_changed ON {table}")
        else:
            for event in ("insert", "delete", "update"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS custos_access_{table}_{event}")
    if postgresql:
        schema_editor.execute("DROP FUNCTION IF EXISTS custos_access_changed()")
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessVersion",
            fields=[
                ("org_id", models.UUIDField(primary_key=True, serialize=False)),
                ("version", models.BigIntegerField()),
            ],
        ),
        migrations.RunPython(install, remove),
    ]
