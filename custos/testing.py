"""The shared cast, fixtures and helpers of the test suite (a pytest plugin).

Org A: olive (owner), alice (admin), bob (read-only), sam (sales). Org B: mallory (owner).
Owners and admins have a confirmed second factor with a known secret, so web tests can
sign them in like a person would.
"""

from __future__ import annotations

import email.policy
import io
import logging
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any

import pyotp
import pytest
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone, translation

from custos.accounts.access import actor_for
from custos.accounts.models import Membership, Role, User
from custos.accounts.services import member_add, organization_create, team_create, token_create
from custos.core import crypto
from custos.core.actor import Actor, Via
from custos.core.models import Organization
from custos.core.tenancy import tenant_scope
from custos.crm.imports import import_upload
from custos.crm.services.activities import activity_create
from custos.crm.services.custom_fields import custom_field_create
from custos.crm.services.deals import deal_create
from custos.crm.services.forms import lead_form_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import affiliation_add, company_create, contact_create
from custos.crm.services.rules import assignment_rule_create, scoring_rule_create
from custos.privacy.services.breaches import breach_create
from custos.privacy.services.consent import purpose_create
from custos.privacy.services.processors import processor_create
from custos.privacy.services.requests import request_create
from custos.privacy.services.retention import legal_hold_create, retention_policy_create
from custos.scheduling.services.appointments import appointment_create
from custos.scheduling.services.catalogue import practitioner_add, resource_create, service_create
from custos.scheduling.services.recalls import recall_create

PASSWORD = "correct-horse-battery-staple-42"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _own_var_dir(settings: Any, tmp_path_factory: Any) -> None:
    # Files a command keeps beside the database (audit anchors) and uploaded files (imports)
    # stay out of the repository.
    settings.VAR_DIR = tmp_path_factory.mktemp("var")
    settings.MEDIA_ROOT = settings.VAR_DIR / "files"


@pytest.fixture(autouse=True)
def _english_unless_asked() -> Iterator[None]:
    # A request activates its user's language on the worker's thread and nothing resets it;
    # without this, a German page in one test makes the next test's defaults German.
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Argon2 is the production hasher (tested in accounts); fixtures need many users fast.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def enable_two_factor(user: User, secret: str = TOTP_SECRET) -> None:
    user.totp_secret = crypto.seal_platform(secret, aad=f"totp|{user.pk}")
    user.totp_confirmed_at = timezone.now()
    user.save(update_fields=["totp_secret", "totp_confirmed_at"])


def current_code(secret: str = TOTP_SECRET) -> str:
    return pyotp.TOTP(secret).now()


@dataclass
class Cast:
    org_a: Organization
    org_b: Organization
    olive: User
    alice: User
    bob: User
    sam: User
    mallory: User

    def membership(self, user: User, org: Organization | None = None) -> Membership:
        org = org or (self.org_b if user == self.mallory else self.org_a)
        return Membership.objects.select_related("org").get(user=user, org=org)

    def actor(self, user: User, org: Organization | None = None, via: Via = Via.WEB) -> Actor:
        return actor_for(self.membership(user, org), via=via)


def _add(owner_actor: Actor, email: str, role_key: str) -> User:
    membership = member_add(actor=owner_actor, email=email, role=Role.objects.get(key=role_key))
    user = membership.user
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def cast(db: Any) -> Cast:
    a = organization_create(name="Acme Praxis", owner_email="olive@acme.example", country="DE")
    b = organization_create(name="Bravo Handel", owner_email="mallory@bravo.example", country="PL")
    for owner in (a.owner, b.owner):
        owner.set_password(PASSWORD)
        owner.save()
        enable_two_factor(owner)
    with tenant_scope(a.org):
        olive_actor = actor_for(Membership.objects.get(user=a.owner, org=a.org), via=Via.CLI)
        alice = _add(olive_actor, "alice@acme.example", "admin")
        bob = _add(olive_actor, "bob@acme.example", "read_only")
        sam = _add(olive_actor, "sam@acme.example", "sales")
    enable_two_factor(alice)
    # The cast's own invitation mails are scenery, not part of any test: drop them.
    connection.run_on_commit.clear()
    return Cast(org_a=a.org, org_b=b.org, olive=a.owner, alice=alice, bob=bob, sam=sam, mallory=b.owner)


def web_client(user: User) -> Client:
    """A browser session of the user, signed in (second factor included)."""
    client = Client()
    client.force_login(user)
    return client


def api_client(cast: Cast, user: User, scope: str = "admin", org: Organization | None = None) -> Client:
    """An API client holding a fresh token of the user with the given scope(s)."""
    membership = cast.membership(user, org)
    with tenant_scope(membership.org_id):
        _, plaintext = token_create(actor=actor_for(membership, via=Via.CLI), name="test", scopes=scope.split(","))
    return Client(headers={"Authorization": f"Bearer {plaintext}"})


@pytest.fixture
def as_tenant(cast: Cast) -> Iterator[None]:
    with tenant_scope(cast.org_a):
        yield


# A real SMTP server on loopback ----------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = 0

    def sent_to(self, address: str, timeout: float = 5.0) -> list[Message]:
        """The messages to this address, waiting until there is one (or the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if m["To"] == address]
            if found:
                return found
            time.sleep(0.02)
        return []

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1; Django sends to it over real SMTP."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mailbox.messages.append(message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # aiosmtpd tells of every connection at INFO from its own thread, through a handler whose
    # stream pytest may have closed by then ("Logging error" noise): its warnings are enough.
    chatter = logging.getLogger("mail.log")
    level = chatter.level
    chatter.setLevel(logging.WARNING)
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    try:
        controller.start()
        mailbox.port = port
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
            }
        }
        yield mailbox
    finally:
        controller.stop(no_assert=True)
        chatter.setLevel(level)


def run_tasks() -> int:
    """Run every queued task now with the worker's own code; returns how many ran.

    The full `custos worker` loop closes database connections between tasks, which would
    end a test's transaction; this runs the same `run_task` on each ready task instead.
    With Redis configured, the real worker runs in burst mode.
    """
    from django.conf import settings
    from django.core.management import call_command

    # A test's transaction never commits: run what would have run on commit (task enqueues).
    while connection.run_on_commit:
        callback = connection.run_on_commit.pop(0)[1]
        callback()
    if settings.REDIS_URL:
        call_command("worker", "--burst", "--no-scheduler")
        return -1
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    while (row := DBTaskResult.objects.ready().order_by("enqueued_at").first()) is not None:
        row.claim(worker.worker_id)
        worker.run_task(row)
        ran += 1
    return ran


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


# Walking every route ---------------------------------------------------------------------

MARKER = "Zyxwvutsrq"

# Routes that are not staff pages of a tenant, with the reason.
PUBLIC_WEB_ROUTES = {
    "login/": "sign-in",
    "login/code/": "second sign-in step",
    "logout/": "sign-out",
    "password-reset/": "password reset request",
    "password-reset/sent/": "password reset",
    "password-reset/<uidb64>/<token>/": "password reset link from the mail",
    "password-reset/done/": "password reset",
    "i18n/setlang/": "language choice before signing in",
    "calendar/<str:token>.ics": "calendar feed: calendar apps fetch it by its secret link, without a session",
    # The privacy portal serves data subjects, not staff: a secret link or the portal session it opens.
    "privacy/portal/l/<str:secret>/": "privacy portal: the person's secret link",
    "privacy/portal/me/": "privacy portal: the person's own data, by the session the link opened",
    "privacy/portal/me/correct/": "privacy portal: the person corrects their own data",
    "privacy/portal/me/consents/": "privacy portal: the person's own consents",
    "privacy/portal/me/export/json/": "privacy portal: the person downloads their own data",
    "privacy/portal/me/export/xlsx/": "privacy portal: the person downloads their own data",
    "privacy/portal/me/requests/": "privacy portal: the person's own requests",
    "privacy/portal/sign-out/": "privacy portal: the person leaves the portal",
    "privacy/portal/language/": "privacy portal: language choice of a person without an account",
    "privacy/portal/<slug:org_slug>/": "privacy portal: anyone may ask for a link by email",
    "privacy/portal/<slug:org_slug>/sent/": "privacy portal: the same answer for every email",
    "privacy/portal/<slug:org_slug>/notice/": "the organisation's public privacy notice",
    # Web-to-lead forms face visitors of the organisation's website, who have no account.
    "forms/<str:public_key>/": "web form: a visitor fills in the hosted (or embedded) form",
    "forms/<str:public_key>/thanks/": "web form: the thank-you page after a submission",
    "forms/confirm/<str:token>/": "web form: the double opt-in link from the mail",
}
NOT_TENANT_ROUTES = ("platform-admin/", "static/", "api/v1/")


@dataclass
class OrgAObjects:
    ids: dict[str, str]

    def all_ids(self) -> set[str]:
        return set(self.ids.values())


def book_appointment(actor: Actor, contact: Any, user: User, *, label: str = "Check-up") -> Any:
    """A 30-minute appointment of the contact at 9:00 on 7 January 2030, in a service, room and
    practitioner (`user`) of its own: the service named `label`, the room after it."""
    service = service_create(actor=actor, data={"name": label, "duration_minutes": 30})
    resource = resource_create(actor=actor, data={"name": f"{label} room", "kind": "room"})
    practitioner = practitioner_add(actor=actor, data={"user": str(user.pk)})
    return appointment_create(
        actor=actor,
        data={
            "service": str(service.pk),
            "practitioner": str(practitioner.pk),
            "resource": str(resource.pk),
            "contact": str(contact.pk),
            "starts_at": "2030-01-07T09:00:00+01:00",
        },
    )


def org_a_objects(cast: Cast) -> OrgAObjects:
    """One object of each kind in org A, by the route parameter that names it."""
    actor = cast.actor(cast.olive)
    with tenant_scope(cast.org_a):
        company = company_create(actor=actor, data={"name": f"{MARKER} GmbH"})
        contact = contact_create(
            actor=actor,
            data={"first_name": MARKER, "last_name": "Leak", "email": "leak@acme.example", "company": str(company.pk)},
        )
        team = team_create(actor=actor, name=f"{MARKER} team")
        token, _ = token_create(actor=cast.actor(cast.alice), name=f"{MARKER} token", scopes=["read"])
        lead = lead_create(actor=actor, data={"first_name": MARKER, "email": "lead.leak@acme.example"})
        deal = deal_create(actor=actor, data={"name": f"{MARKER} deal", "contact": str(contact.pk), "amount": "100"})
        activity = activity_create(actor=actor, data={"title": f"{MARKER} note", "contact": str(contact.pk)})
        upload = io.BytesIO(f"First name,Email\n{MARKER},import.leak@acme.example\n".encode())
        job = import_upload(actor=actor, object_type="contact", file_name=f"{MARKER}.csv", stream=upload)
        field = custom_field_create(
            actor=actor,
            data={"object_type": "contact", "key": "leak", "label": MARKER, "kind": "text", "category": "none"},
        )
        twin = contact_create(
            actor=actor,
            data={"first_name": MARKER, "last_name": "Leak", "email": "twin.leak@acme.example"},
        )
        scoring_rule = scoring_rule_create(
            actor=actor, data={"name": f"{MARKER} rule", "condition": "tag", "value": "leak", "points": 5}
        )
        # Inactive, so that leads created later in a test stay with whoever creates them.
        assignment_rule = assignment_rule_create(
            actor=actor, data={"name": f"{MARKER} rule", "reps": [str(cast.sam.pk)], "is_active": False}
        )
        appointment = book_appointment(actor, contact, cast.olive, label=f"{MARKER} check-up")
        service, resource, practitioner = appointment.service, appointment.resource, appointment.practitioner
        recall = recall_create(
            actor=actor,
            data={"contact": str(contact.pk), "service": str(service.pk), "interval_months": 6, "due_on": "2030-06-01"},
        )
        affiliation = affiliation_add(
            actor=actor, contact=contact, data={"company": str(company_create(actor=actor, data={"name": MARKER}).pk)}
        )
        breach = breach_create(actor=actor, data={"title": f"{MARKER} breach", "aware_at": timezone.now()})
        processor = processor_create(
            actor=actor,
            data={"name": f"{MARKER} processor", "service": "hosting", "location": "DE", "safeguard": "none_needed"},
        )
        retention_policy = retention_policy_create(
            actor=actor, data={"key": "lead.inactive", "condition": "inactive", "days": 3650, "action": "anonymise"}
        )
        legal_hold = legal_hold_create(actor=actor, data={"subject": str(contact.subject_id), "reason": MARKER})
        purpose = purpose_create(
            actor=actor, data={"key": "leak", "legal_basis": "consent", "names": {"en": f"{MARKER} purpose"}}
        )
        privacy_request = request_create(actor=actor, kind="access", email="leak@acme.example")
        lead_form = lead_form_create(
            actor=actor, data={"name": f"{MARKER} form", "fields": [{"name": "email", "required": True}]}
        )
        ids = {
            "lead_form_id": str(lead_form.pk),
            "purpose_id": str(purpose.pk),
            "request_id": str(privacy_request.pk),
            "retention_policy_id": str(retention_policy.pk),
            "legal_hold_id": str(legal_hold.pk),
            "breach_id": str(breach.pk),
            "processor_id": str(processor.pk),
            "affiliation_id": str(affiliation.pk),
            "service_id": str(service.pk),
            "resource_id": str(resource.pk),
            "practitioner_id": str(practitioner.pk),
            "appointment_id": str(appointment.pk),
            "recall_id": str(recall.pk),
            "lead_id": str(lead.pk),
            "scoring_rule_id": str(scoring_rule.pk),
            "assignment_rule_id": str(assignment_rule.pk),
            "user_id": str(cast.sam.pk),
            "other_id": str(twin.pk),
            "deal_id": str(deal.pk),
            "pipeline_id": str(deal.pipeline_id),
            "stage_id": str(deal.stage_id),
            "activity_id": str(activity.pk),
            "import_id": str(job.pk),
            "custom_field_id": str(field.pk),
            "contact_id": str(contact.pk),
            "company_id": str(company.pk),
            "subject_id": str(contact.subject_id),
            "team_id": str(team.pk),
            "role_id": str(Role.objects.get(key="sales").pk),
            "membership_id": str(Membership.objects.get(user=cast.alice, org=cast.org_a).pk),
            "token_id": str(token.pk),
        }
    return OrgAObjects(ids)


def _walk(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            if not route.startswith("^"):
                yield route


def web_routes() -> list[str]:
    return sorted(
        {r for r in _walk(get_resolver()) if not r.startswith(NOT_TENANT_ROUTES) and r not in PUBLIC_WEB_ROUTES}
    )


def api_operations() -> list[tuple[str, str]]:
    from custos.api.api import api

    schema = api.get_openapi_schema()
    return sorted((method.upper(), path) for path, item in schema["paths"].items() for method in item)


PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>|\{(\w+)\}")


def route_parameters(route: str) -> list[str]:
    return [a or b for a, b in PARAMETER.findall(route)]


def fill_route(route: str, ids: dict[str, str]) -> str:
    path = PARAMETER.sub(lambda m: ids[m.group(1) or m.group(2)], route)
    return path if path.startswith("/") else "/" + path


def sql_as_database_owner(org: Organization, statement: str, params: Any = ()) -> None:
    """Run SQL as someone holding the database owner's credentials would: not as the
    application role (which may not rewrite logs), but still inside the tenant's rows."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("RESET ROLE")
            cursor.execute("SELECT set_config('custos.org_id', %s, false)", [str(org.pk)])
        try:
            cursor.execute(statement, [*params])
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT set_config('custos.org_id', '', false)")
                connection._tenant_state = object()  # type: ignore[attr-defined]  # make the backend set it again
