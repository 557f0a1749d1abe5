"""The access version and the triggers that raise it (see `AccessVersion`)."""

from django.db import migrations, models

# What a token's rights are read from, and which changes matter (None: every change). A token's
# `last_used_at`, written once a minute, and a user's sign-ins do not.
WATCHED = {
    "apitoken": ("org_id", "user_id", "token_hash", "scopes", "expires_at", "revoked_at"),
    "membership": None,
    "role": None,
    "teammember": None,
    "user": ("is_active",),
}


def _statements(apps, vendor):
    version = apps.get_model("accounts", "AccessVersion")._meta.db_table
    bump = f"UPDATE {version} SET version = version + 1 WHERE id = 1"  # noqa: S608 (table names from the models)
    for model, columns in WATCHED.items():
        table = apps.get_model("accounts", model)._meta.db_table
        changes = {"insert": "INSERT", "delete": "DELETE", "update": "UPDATE"}
        if columns:
            changes["update"] = f"UPDATE OF {', '.join(columns)}"
        if vendor == "postgresql":
            events = " OR ".join(changes.values())
            yield (
                f"CREATE TRIGGER custos_access_changed AFTER {events} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION custos_access_changed()"
            )
        else:
            for name, event in changes.items():
                yield f"CREATE TRIGGER custos_access_{table}_{name} AFTER {event} ON {table} BEGIN {bump}; END"


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    version = apps.get_model("accounts", "AccessVersion")
    version.objects.using(schema_editor.connection.alias).get_or_create(pk=1)
    if vendor == "postgresql":
        bump = f"UPDATE {version._meta.db_table} SET version = version + 1 WHERE id = 1"  # noqa: S608
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION custos_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {bump}; RETURN NULL; END $$"
        )
    for statement in _statements(apps, vendor):
        schema_editor.execute(statement)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for model in WATCHED:
        table = apps.get_model("accounts", model)._meta.db_table
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS custos_access_changed ON {table}")
        else:
            for name in ("insert", "delete", "update"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS custos_access_{table}_{name}")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS custos_access_changed()")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessVersion",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(install, remove),
    ]
