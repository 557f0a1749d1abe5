"""`custos audit verify [--org SLUG]`: ok lines when whole, non-zero naming the broken link."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from custos.audit.models import AuditEntry, AuditHead
from custos.audit.services import audit_record, audit_verify
from custos.core.tenancy import tenant_scope
from custos.testing import sql_as_database_owner


def _verify(*args):
    out = StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue().splitlines()


def _tamper(org, seq):
    with tenant_scope(org):
        entry = AuditEntry.objects.get(seq=seq)
    sql_as_database_owner(
        org,
        "UPDATE audit_auditentry SET action = 'member.remove' WHERE id = %s",
        [AuditEntry._meta.pk.get_db_prep_value(entry.pk, connection)],
    )
    return entry


def test_every_intact_organisation_gets_an_ok_line(cast):
    assert _verify() == [
        "ok      acme-praxis: 5 entries, chain intact",
        "ok      bravo-handel: 2 entries, chain intact",
    ]


def test_a_broken_chain_exits_non_zero_naming_the_organisation_and_entry(cast):
    entry = _tamper(cast.org_b, 2)
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("audit", "verify", stdout=out)

    broken = f"bravo-handel: entry #2 ({entry.pk}): content changed since it was written"
    assert str(raised.value) == f"audit chain broken in 1 organisation(s); first: {broken}"
    assert out.getvalue().splitlines() == [
        "ok      acme-praxis: 5 entries, chain intact",
        f"BROKEN  {broken}",
    ]


def test_the_error_names_the_first_broken_organisation_and_counts_all(cast):
    first = _tamper(cast.org_a, 3)
    _tamper(cast.org_b, 1)

    with pytest.raises(CommandError) as raised:
        call_command("audit", "verify", stdout=StringIO())

    assert str(raised.value) == (
        "audit chain broken in 2 organisation(s); first: "
        f"acme-praxis: entry #3 ({first.pk}): content changed since it was written"
    )


def test_org_limits_the_check_to_one_organisation(cast):
    _tamper(cast.org_a, 2)

    assert _verify("--org", "bravo-handel") == ["ok      bravo-handel: 2 entries, chain intact"]
    with pytest.raises(CommandError, match="acme-praxis: entry #2"):
        call_command("audit", "verify", "--org", "acme-praxis", stdout=StringIO())


def test_an_unknown_org_is_an_error(cast):
    with pytest.raises(CommandError) as raised:
        call_command("audit", "verify", "--org", "nobody", stdout=StringIO())

    assert str(raised.value) == "No organisation with slug 'nobody'."


def test_a_chain_rolled_back_to_an_older_end_is_caught_on_the_next_run(cast):
    """Cutting entries off and restoring the old sealed end fools a single run, not the next."""
    with tenant_scope(cast.org_a):
        head = AuditHead.objects.get()
        old_head = (head.seq, head.hash, head.seal)
        audit_record(actor=cast.actor(cast.alice), action="test.event")
    assert _verify("--org", "acme-praxis") == ["ok      acme-praxis: 6 entries, chain intact"]

    sql_as_database_owner(
        cast.org_a, "DELETE FROM audit_auditentry WHERE seq = 6 AND org_id = %s", [_db(cast.org_a.pk)]
    )
    sql_as_database_owner(
        cast.org_a,
        "UPDATE audit_audithead SET seq = %s, hash = %s, seal = %s WHERE org_id = %s",
        [*old_head, _db(cast.org_a.pk)],
    )
    assert audit_verify(cast.org_a.pk) is None  # without the anchor the rollback is invisible
    with pytest.raises(CommandError, match="entry #6"):
        _verify("--org", "acme-praxis")


def _db(value):
    return AuditEntry._meta.pk.get_db_prep_value(value, connection)
