"""The breach notice to an affected person (Art. 34), sent in the background.

Task arguments are ids only: the address and the language are looked up when the mail goes.
"""

from __future__ import annotations

import uuid

from django.tasks import task


@task
def send_breach_notice(org_id: str, breach_subject_id: str) -> bool:
    """One notice to one affected person; raises (and gives the claim back) if the mail server refuses it."""
    from custos.core.tenancy import tenant_scope
    from custos.privacy.services.breaches import breach_notice_send

    with tenant_scope(uuid.UUID(org_id)):
        return breach_notice_send(org_id=uuid.UUID(org_id), breach_subject_id=breach_subject_id)
