"""Old IP addresses in the audit log are cut to their network; the chain stays whole."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.utils import timezone

from custos.audit.models import AuditEntry
from custos.audit.services import audit_record, audit_truncate_old_ips, audit_verify, truncate_ip
from custos.audit.tasks import truncate_old_ips
from custos.core.tenancy import tenant_scope
from custos.testing import run_tasks


def _record(cast, ip, org=None):
    org = org or cast.org_a
    user = cast.mallory if org == cast.org_b else cast.alice
    with tenant_scope(org):
        return audit_record(actor=cast.actor(user, org), action="user.sign_in", ip=ip, user_agent="pytest")


def _reload(org, entry):
    with tenant_scope(org):
        return AuditEntry.objects.get(pk=entry.pk)


def test_truncation_keeps_the_network_only():
    assert truncate_ip("203.0.113.77") == "203.0.113.0"
    assert truncate_ip("2001:db8:abcd:12:34::99") == "2001:db8:abcd::"
    assert truncate_ip("::ffff:203.0.113.77") == "203.0.113.0"  # an IPv4 address in IPv6 clothing


def test_addresses_older_than_the_period_are_truncated_and_newer_ones_kept(cast, settings):
    settings.CUSTOS_AUDIT_IP_RETENTION_DAYS = 30
    old_v4 = _record(cast, "203.0.113.77")
    old_v6 = _record(cast, "2001:db8:abcd:12:34::99")
    old_b = _record(cast, "198.51.100.200", org=cast.org_b)
    new_v4 = _record(cast, "192.0.2.55")
    new_v6 = _record(cast, "2001:db8:ffff:1::1")
    now = old_b.at + (new_v4.at - old_b.at) / 2 + timedelta(days=30)

    assert audit_truncate_old_ips(now=now) == 3

    assert (_reload(cast.org_a, old_v4).ip, _reload(cast.org_a, old_v4).ip_truncated) == ("203.0.113.0", True)
    assert (_reload(cast.org_a, old_v6).ip, _reload(cast.org_a, old_v6).ip_truncated) == ("2001:db8:abcd::", True)
    assert (_reload(cast.org_b, old_b).ip, _reload(cast.org_b, old_b).ip_truncated) == ("198.51.100.0", True)
    assert (_reload(cast.org_a, new_v4).ip, _reload(cast.org_a, new_v4).ip_truncated) == ("192.0.2.55", False)
    assert (_reload(cast.org_a, new_v6).ip, _reload(cast.org_a, new_v6).ip_truncated) == ("2001:db8:ffff:1::1", False)
    assert audit_verify(cast.org_a.pk) is None
    assert audit_verify(cast.org_b.pk) is None


def test_truncation_runs_once_per_entry(cast, settings):
    settings.CUSTOS_AUDIT_IP_RETENTION_DAYS = 90
    entry = _record(cast, "203.0.113.77")
    later = timezone.now() + timedelta(days=91)

    assert audit_truncate_old_ips(now=later) == 1
    assert audit_truncate_old_ips(now=later) == 0
    assert _reload(cast.org_a, entry).ip == "203.0.113.0"
    assert audit_verify(cast.org_a.pk) is None


def test_old_user_agents_are_dropped_too(cast):
    entry = _record(cast, None)  # a user agent, no address

    assert audit_truncate_old_ips(now=timezone.now() + timedelta(days=365)) == 1
    reloaded = _reload(cast.org_a, entry)
    assert (reloaded.ip, reloaded.user_agent, reloaded.ip_truncated) == (None, "", True)
    assert audit_verify(cast.org_a.pk) is None


def test_entries_without_address_or_user_agent_are_left_alone(cast):
    with tenant_scope(cast.org_a):
        entry = audit_record(actor=None, action="system.job")

    assert audit_truncate_old_ips(now=timezone.now() + timedelta(days=365)) == 0
    assert _reload(cast.org_a, entry).ip_truncated is False


def test_the_default_period_is_ninety_days(cast):
    entry = _record(cast, "203.0.113.77")

    assert audit_truncate_old_ips(now=entry.at + timedelta(days=89, hours=23)) == 0
    assert audit_truncate_old_ips(now=entry.at + timedelta(days=90, seconds=1)) == 1


def test_the_background_task_truncates(cast, settings):
    settings.CUSTOS_AUDIT_IP_RETENTION_DAYS = 0
    entry = _record(cast, "203.0.113.77")

    result = truncate_old_ips.enqueue()
    run_tasks()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL

    assert _reload(cast.org_a, entry).ip == "203.0.113.0"
    assert audit_verify(cast.org_a.pk) is None


# The real worker loop manages its own connections and transactions, as in production.
@pytest.mark.django_db(transaction=True)
def test_the_periodic_scheduler_runs_the_truncation(cast, settings):
    settings.CUSTOS_AUDIT_IP_RETENTION_DAYS = 0
    entry = _record(cast, "2001:db8:abcd:12:34::99")

    call_command("worker", "--burst")

    assert _reload(cast.org_a, entry).ip == "2001:db8:abcd::"
    assert audit_verify(cast.org_a.pk) is None


def test_shortening_wipes_the_salt_so_the_full_address_cannot_be_recomputed(cast):
    entry = _record(cast, "203.0.113.77")
    assert len(_reload(cast.org_a, entry).identifier_salt) == 32

    audit_truncate_old_ips(now=timezone.now() + timedelta(days=365))

    reloaded = _reload(cast.org_a, entry)
    assert (reloaded.ip, reloaded.identifier_salt) == ("203.0.113.0", "")
    assert audit_verify(cast.org_a.pk) is None
