"""/me: who the token speaks for — useful to check a token before using it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from custos.accounts.models import Membership
from custos.core.actor import Actor

router = Router(tags=["account"])


class MeOut(Schema):
    user: str
    email: str
    organization: str
    organization_name: str
    role: str
    permissions: list[str]


@router.get("/me", response=MeOut, summary="The member and organisation this token acts for")
def me(request: HttpRequest) -> dict[str, Any]:
    actor: Actor = request.auth  # type: ignore[attr-defined]
    membership = Membership.objects.select_related("user", "org").get(user_id=actor.member_id, org_id=actor.org_id)
    return {
        "user": str(actor.user_id),
        "email": membership.user.email,
        "organization": membership.org.slug,
        "organization_name": membership.org.name,
        "role": actor.role_key,
        "permissions": sorted(actor.permissions),
    }
