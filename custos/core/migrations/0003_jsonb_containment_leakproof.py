"""Let PostgreSQL estimate a tag filter under row-level security.

A policy's condition is checked before any condition of the query whose function is not
LEAKPROOF, and the planner does not look at a column's statistics for such a condition
either: a list filtered by a tag (`tags @> '["vip"]'`) was estimated at a fixed share of
the table, so a list of 70,000 contacts said "about 10,000". JSON containment compares two
values and raises no error that depends on a row's value, so it is safe to mark LEAKPROOF;
that needs a superuser, and a migration run by another role leaves it as it is (the filter
stays correct, its estimated count rough) and says so: docs/operations.md gives the statement.
"""

from django.db import migrations

from custos.core.db.functions import alter_functions

FUNCTIONS = ("jsonb_contains(jsonb, jsonb)",)
UNLESS_SUPERUSER = (
    "core: not a superuser, so JSON containment stays NOT LEAKPROOF and a list filtered by a tag "
    "shows a rough count; see docs/operations.md."
)


def _leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


def _not_leakproof(apps, schema_editor):
    alter_functions(schema_editor, FUNCTIONS, "NOT LEAKPROOF", unless_superuser=UNLESS_SUPERUSER)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_organization_offboarding")]

    operations = [migrations.RunPython(_leakproof, _not_leakproof)]
