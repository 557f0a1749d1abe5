from __future__ import annotations

from django.tasks import task

from custos.audit.services import audit_truncate_old_ips


@task
def truncate_old_ips() -> int:
    return audit_truncate_old_ips()
