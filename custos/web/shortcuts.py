from __future__ import annotations

from django.http import HttpRequest

from custos.accounts.models import User
from custos.core.actor import Actor
from custos.core.errors import NotFound


class NoOrganization(NotFound):
    """Signed in, but a member of no organisation (any more)."""


def actor_of(request: HttpRequest) -> Actor:
    """The acting member; a signed-in person without an organisation is told so."""
    actor: Actor | None = getattr(request, "actor", None)
    if actor is None:
        raise NoOrganization()
    return actor


def user_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # LoginRequiredMiddleware guarantees it
    return user
