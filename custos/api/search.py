"""/search: one query over companies, contacts, leads and deals."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from custos.api.rendering import actor_of, choice_filter
from custos.crm.selectors.search import TYPES, global_search

router = Router(tags=["search"])


class ResultOut(Schema):
    type: str
    id: str
    label: str
    score: float


class ResultsOut(Schema):
    items: list[ResultOut]


@router.get("/search", response=ResultsOut, summary="Search companies, contacts, leads and deals")
def search(request: HttpRequest, q: str = "", type: str = "", limit: int = 20) -> dict[str, Any]:
    """Typo-tolerant and ranked; only what the token's member may see, by fields they may see."""
    actor = actor_of(request)
    kinds = [choice_filter("type", part.strip(), list(TYPES)) for part in type.split(",") if part.strip()]
    results = global_search(actor, q, types=kinds or None, limit=max(1, min(limit, 50)))
    return {
        "items": [{"type": r.object_type, "id": str(r.object_id), "label": r.label, "score": r.score} for r in results]
    }
