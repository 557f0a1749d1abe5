"""A CRM full of data, written in bulk but stored exactly as the application stores it.

What `insert_record` does for one record is done here for thousands at a time: the rows
go through the model fields (so encrypted fields are encrypted with the tenant's data key,
values cleaned as the cleaners leave them: E.164 phones, lower-case email domains, compact
VAT IDs), every person gets a `privacy.Subject` (a lead with a contact's email shares the
contact's), every deal its first stage change, and every searchable record its search
entries through `custos.crm.search.reindex_many` itself. What is left out on purpose:
one audit entry per row (the organisations, members and tokens are created through their
actions and audited; a bulk load of records is not an action anyone took).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyotp
from django.db import connection, connections
from django.utils import timezone

from bench import data
from bench.loading import Loader
from custos.accounts.access import actor_for
from custos.accounts.models import Membership, Role
from custos.accounts.services import member_add, organization_create
from custos.core import crypto
from custos.core.actor import Via
from custos.core.tenancy import tenant_scope
from custos.crm.models import Activity, Company, Contact, Deal, DealStageChange, Lead, Stage
from custos.crm.search import prepare_new
from custos.crm.services.deals import pipeline_default
from custos.privacy.models import Subject
from custos.search.index import entries_of
from custos.search.models import SearchEntry

BIG_TENANT = "Bench Big GmbH"
SMALL_TENANTS = 9
CHUNK = 2000  # records per transaction
# Processes writing chunks at once on PostgreSQL: building rows in Python is the bottleneck.
WORKERS = min(os.cpu_count() or 1, 4)
STAFF_ROLES = ("sales",) * 8 + ("manager", "manager", "support", "read_only")
# Records are spread over the years before the benchmark date, oldest first (ids are time-ordered too).
FIRST_DAY = datetime(2021, 1, 1, tzinfo=UTC)
LAST_DAY = datetime(2026, 11, 20, tzinfo=UTC)


@dataclass(frozen=True)
class Counts:
    contacts: int
    companies: int
    leads: int
    deals: int
    activities: int

    @classmethod
    def for_scale(cls, contacts: int) -> Counts:
        """The issue's proportions: 1,000,000 contacts come with 200k companies, 300k leads,
        100k deals and 2M activities."""
        return cls(contacts, contacts // 5, contacts * 3 // 10, contacts // 10, contacts * 2)

    @property
    def rows(self) -> int:
        return self.contacts + self.companies + self.leads + self.deals + self.activities


@dataclass
class Tenant:
    """What later steps of the generation need to know of what earlier ones wrote."""

    org: Any
    country: str
    owner_ids: list[uuid.UUID]
    companies: list[Company] = field(default_factory=list)
    contact_ids: list[uuid.UUID] = field(default_factory=list)
    contact_subjects: list[uuid.UUID] = field(default_factory=list)
    contact_emails: list[str] = field(default_factory=list)
    contact_company: list[int] = field(default_factory=list)  # index into companies, -1 for none
    lead_ids: list[uuid.UUID] = field(default_factory=list)
    deal_ids: list[uuid.UUID] = field(default_factory=list)

    def extend(self, grown: Grown) -> None:
        for name in Grown.__dataclass_fields__:
            getattr(self, name).extend(getattr(grown, name))


@dataclass
class Grown:
    """What one chunk adds to its tenant's lists (in a worker process, sent back to the parent)."""

    companies: list[Company] = field(default_factory=list)
    contact_ids: list[uuid.UUID] = field(default_factory=list)
    contact_subjects: list[uuid.UUID] = field(default_factory=list)
    contact_emails: list[str] = field(default_factory=list)
    contact_company: list[int] = field(default_factory=list)
    lead_ids: list[uuid.UUID] = field(default_factory=list)
    deal_ids: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Chunk:
    """One transaction's worth of one kind of record: what its step reads and where it writes."""

    out: Loader
    numbers: range
    total: int
    tenant: Tenant  # what earlier steps made
    rng: random.Random
    people: list[tuple[data.Person, str]]  # made beforehand, in order: emails are unique
    stages: list[Stage]
    grown: Grown = field(default_factory=Grown)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _chunks(total: int) -> Iterator[range]:
    for start in range(0, total, CHUNK):
        yield range(start, min(start + CHUNK, total))


def _moment(rng: random.Random, position: float) -> datetime:
    """A creation time `position` (0..1) of the way through the data's history, with jitter."""
    span = (LAST_DAY - FIRST_DAY).total_seconds()
    return FIRST_DAY + timedelta(seconds=span * position + rng.uniform(0, 3600))


def generate(scale: int, *, seed: int = 2026) -> dict[str, Any]:
    """The big tenant with `scale` contacts and nine small ones with 1 % each."""
    rng = random.Random(seed)
    emails = data.Emails(rng)
    started = time.perf_counter()
    tenants = [(BIG_TENANT, "DE", Counts.for_scale(scale))]
    small = Counts.for_scale(max(scale // 100, 10))
    tenants += [(f"Bench Small {n + 1}", data.COUNTRIES[n % 3], small) for n in range(SMALL_TENANTS)]
    rows = 0
    loader = Loader()
    try:
        with loader.indexes_built_afterwards():
            for name, country, counts in tenants:
                tenant_started = time.perf_counter()
                _tenant(loader, name, country, counts, rng, emails)
                rows += counts.rows
                _say(f"{name}: {counts.rows:,} records in {time.perf_counter() - tenant_started:.0f} s")
    finally:
        loader.close()
    with connection.cursor() as cursor:
        # What autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) would do in time.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    seconds = time.perf_counter() - started
    return {
        "big_tenant": Counts.for_scale(scale).__dict__,
        "small_tenants": {"count": SMALL_TENANTS, **small.__dict__},
        "records": rows,
        "seconds": round(seconds, 1),
        "records_per_second": round(rows / seconds),
    }


def _tenant(loader: Loader, name: str, country: str, counts: Counts, rng: random.Random, emails: data.Emails) -> None:
    slug_domain = data.ascii_local(name.replace(" ", "-"))
    created = organization_create(name=name, owner_email=f"owner@{slug_domain}.example", country=country)
    with tenant_scope(created.org):
        owner = Membership.objects.get(org=created.org, user=created.owner)
        actor = actor_for(owner, via=Via.CLI)
        roles = {role.key: role for role in Role.objects.all()}
        staff = [
            member_add(actor=actor, email=f"{role}{n}@{slug_domain}.example", role=roles[role]).user_id
            for n, role in enumerate(STAFF_ROLES)
        ]
        # Owners sign in with a second factor; the web benchmark signs in as the owner.
        created.owner.totp_secret = crypto.seal_platform(pyotp.random_base32(), aad=f"totp|{created.owner.pk}")
        created.owner.totp_confirmed_at = timezone.now()
        created.owner.save(update_fields=["totp_secret", "totp_confirmed_at"])
        tenant = Tenant(org=created.org, country=country, owner_ids=[created.owner.pk, *staff])
        stages = list(pipeline_default(actor).stages.order_by("position"))
        for step, total in (
            (_companies, counts.companies),
            (_contacts, counts.contacts),
            (_leads, counts.leads),
            (_deals, counts.deals),
            (_activities, counts.activities),
        ):
            _write(step, total, loader, tenant, rng, emails, stages)


def _write(
    step: Callable[[Chunk], int],
    total: int,
    loader: Loader,
    tenant: Tenant,
    rng: random.Random,
    emails: data.Emails,
    stages: list[Stage],
) -> None:
    """Every chunk of one step, each with a seed of its own drawn here, so the data is the same
    whether the chunks run here or in worker processes (PostgreSQL only: SQLite has one writer)."""
    started = time.perf_counter()
    people = _people(step, total, rng, emails)
    chunks = [(numbers, rng.getrandbits(64)) for numbers in _chunks(total)]
    args: _Forked = (step, total, tenant, people, stages)
    if loader.copying and WORKERS > 1 and len(chunks) >= 2 * WORKERS:
        global _forked
        _forked = args  # the workers read it from their copy of this process
        loader.close()  # no connection may be shared with a forked process
        connections.close_all()
        with multiprocessing.get_context("fork").Pool(WORKERS, initializer=_worker_start) as pool:
            done = _progress(step, total, started, tenant, pool.imap(_chunk_in_worker, chunks))
            pool.close()  # the workers end on their own once the queue is empty
            pool.join()
        _forked = None
    else:
        done = _progress(step, total, started, tenant, (_chunk(loader, *args, *chunk) for chunk in chunks))
    assert done == total, f"{step.__name__}: {done} of {total}"


def _progress(
    step: Callable[..., int], total: int, started: float, tenant: Tenant, grown: Iterable[tuple[int, Grown]]
) -> int:
    done = 0
    for count, chunk_grown in grown:
        tenant.extend(chunk_grown)
        done += count
        if done % (CHUNK * 50) < CHUNK or done == total:
            rate = done / max(time.perf_counter() - started, 1e-9)
            _say(f"  {step.__name__.strip('_')}: {done:,}/{total:,} ({rate:,.0f}/s)")
    return done


def _chunk(
    loader: Loader,
    step: Callable[[Chunk], int],
    total: int,
    tenant: Tenant,
    people: list[tuple[data.Person, str]],
    stages: list[Stage],
    numbers: range,
    seed: int,
) -> tuple[int, Grown]:
    chunk = Chunk(loader, numbers, total, tenant, random.Random(seed), people, stages)
    with loader.chunk():
        count = step(chunk)
    return count, chunk.grown


# (step, total, tenant, people, stages) of the step being forked
_Forked = tuple[Callable[[Chunk], int], int, Tenant, list[tuple[data.Person, str]], list[Stage]]
_forked: _Forked | None = None
_worker_loader: Loader | None = None


def _worker_start() -> None:
    """A worker ends when its pool says so, whatever signal handlers the forking process had
    (a job worker's, say, that would keep it alive and its pool waiting)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _chunk_in_worker(chunk: tuple[range, int]) -> tuple[int, Grown]:
    global _worker_loader
    if _worker_loader is None:
        _worker_loader = Loader()
    assert _forked is not None
    return _chunk(_worker_loader, *_forked, *chunk)


def _people(
    step: Callable[..., int], total: int, rng: random.Random, emails: data.Emails
) -> list[tuple[data.Person, str]]:
    """Contacts' and leads' names and emails, made in one place so every address is unique."""
    share = {_contacts: 0.9, _leads: 0.85}.get(step)
    if share is None:
        return []
    people = []
    for _ in range(total):
        who = data.person(rng)
        people.append((who, emails(who) if rng.random() < share else ""))
    return people


def index(loader: Loader, records: list[Any]) -> None:
    """The search text and entries an import writes for new records (`prepare_new`, then
    `index_new`'s entries), made by the application's own functions; only the INSERT is the
    benchmark's. Before the records are written: their text goes with them."""
    # New records: no further emails or phones yet.
    documents = prepare_new(records)
    normalised: dict[str, str] = {}
    loader.write(SearchEntry, [entry for document in documents for entry in entries_of(document, normalised)])


def _country(rng: random.Random, tenant: Tenant) -> str:
    """Mostly the tenant's own country, some neighbours."""
    return tenant.country if rng.random() < 0.7 else rng.choice(data.COUNTRIES)


def _companies(chunk: Chunk) -> int:
    tenant, rng, total = chunk.tenant, chunk.rng, chunk.total
    batch = []
    for n in chunk.numbers:
        country = _country(rng, tenant)
        name = data.company_name(rng, country)
        domain = data.ascii_local(name.split(" ")[0]) + rng.choice((".de", ".com", ".eu", ".pl", ".at"))
        created = _moment(rng, n / total)
        batch.append(
            Company(
                name=name,
                vat_id=data.vat_id(rng, country) if rng.random() < 0.6 else "",
                website=f"https://www.{domain}" if rng.random() < 0.5 else "",
                email=f"info{n}@{domain}" if rng.random() < 0.6 else "",
                phone=data.phone(rng, country, mobile=False) if rng.random() < 0.8 else "",
                owner_id=rng.choice(tenant.owner_ids),
                tags=["supplier"] if rng.random() < 0.2 else [],
                created_at=created,
                updated_at=created,
                **(data.address(rng, country) if rng.random() < 0.7 else {}),
            )
        )
    index(chunk.out, batch)
    chunk.out.write(Company, batch)
    chunk.grown.companies.extend(batch)
    return len(batch)


def _contacts(chunk: Chunk) -> int:
    tenant, rng, total = chunk.tenant, chunk.rng, chunk.total
    subjects, batch = [], []
    for n in chunk.numbers:
        who, email = chunk.people[n]
        created = _moment(rng, n / total)
        company_index = rng.randrange(len(tenant.companies)) if tenant.companies and rng.random() < 0.4 else -1
        subject = Subject(created_at=created)
        contact = Contact(
            subject_id=subject.pk,
            first_name=who.first_name,
            last_name=who.last_name,
            email=email,
            phone=data.phone(rng, who.country) if rng.random() < 0.8 else "",
            owner_id=rng.choice(tenant.owner_ids),
            tags=rng.sample(data.TAGS, k=rng.choice((0, 0, 1, 1, 2))),
            notes=rng.choice(data.NOTES),
            health_notes=rng.choice(data.HEALTH_NOTES) if rng.random() < 0.05 else "",
            created_at=created,
            updated_at=created,
            **(data.address(rng, who.country) if rng.random() < 0.5 else {}),
        )
        if company_index >= 0:
            contact.company = tenant.companies[company_index]  # the search entry quotes its name
        subjects.append(subject)
        batch.append(contact)
        chunk.grown.contact_ids.append(contact.pk)
        chunk.grown.contact_subjects.append(subject.pk)
        chunk.grown.contact_emails.append(contact.email)
        chunk.grown.contact_company.append(company_index)
    chunk.out.write(Subject, subjects)
    index(chunk.out, batch)
    chunk.out.write(Contact, batch)
    return len(batch)


def _leads(chunk: Chunk) -> int:
    tenant, rng, total = chunk.tenant, chunk.rng, chunk.total
    subjects, batch = [], []
    statuses = [*["new"] * 5, *["contacted"] * 3, "qualified", "disqualified", "converted"]
    for n in chunk.numbers:
        who, email = chunk.people[n]
        created = _moment(rng, n / total)
        status = rng.choice(statuses)
        # One person, one subject: some leads are people already known as contacts.
        known = rng.randrange(len(tenant.contact_ids)) if tenant.contact_ids and rng.random() < 0.05 else -1
        if known >= 0 and tenant.contact_emails[known]:
            subject_id, email = tenant.contact_subjects[known], tenant.contact_emails[known]
        else:
            subject = Subject(created_at=created)
            subjects.append(subject)
            subject_id = subject.pk
        batch.append(
            Lead(
                subject_id=subject_id,
                first_name=who.first_name,
                last_name=who.last_name,
                email=email,
                phone=data.phone(rng, who.country) if rng.random() < 0.6 else "",
                company_name=data.company_name(rng, who.country) if rng.random() < 0.5 else "",
                status=status,
                disqualified_reason="No budget" if status == "disqualified" else "",
                source=rng.choice(("manual", "web_form", "import", "api", "referral", "event")),
                interest=rng.choice(data.LEAD_INTERESTS),
                owner_id=rng.choice(tenant.owner_ids),
                tags=rng.sample(data.TAGS, k=rng.choice((0, 1))),
                converted_at=created + timedelta(days=3) if status == "converted" else None,
                created_at=created,
                updated_at=created,
            )
        )
    chunk.out.write(Subject, subjects)
    index(chunk.out, batch)
    chunk.out.write(Lead, batch)
    chunk.grown.lead_ids.extend(lead.pk for lead in batch)
    return len(batch)


def _deals(chunk: Chunk) -> int:
    tenant, rng, total, stages = chunk.tenant, chunk.rng, chunk.total, chunk.stages
    batch, changes = [], []
    for n in chunk.numbers:
        created = _moment(rng, n / total)
        stage = rng.choice(stages)
        status = {"won": "won", "lost": "lost"}.get(stage.outcome, "open")
        contact, company = None, None
        if tenant.contact_ids and rng.random() < 0.9:
            picked = rng.randrange(len(tenant.contact_ids))
            # Enough of the contact for its search entry (the subject), without loading it.
            contact = Contact(id=tenant.contact_ids[picked], subject_id=tenant.contact_subjects[picked])
            if tenant.contact_company[picked] >= 0:
                company = tenant.companies[tenant.contact_company[picked]]
        if company is None and tenant.companies and rng.random() < 0.5:
            company = rng.choice(tenant.companies)
        deal = Deal(
            name=rng.choice(data.DEAL_NAMES),
            pipeline_id=stage.pipeline_id,
            stage=stage,
            amount=Decimal(rng.choice((450, 1200, 2800, 5400, 12500, 48000))),
            expected_close=(created + timedelta(days=rng.randint(5, 120))).date(),
            status=status,
            lost_reason="Chose another provider" if status == "lost" else "",
            closed_at=created + timedelta(days=30) if status != "open" else None,
            owner_id=rng.choice(tenant.owner_ids),
            company=company,
            contact=contact,
            created_at=created,
            updated_at=created,
        )
        batch.append(deal)
        changes.append(DealStageChange(deal=deal, to_stage=stage, changed_at=created, actor_user_id=deal.owner_id))
    index(chunk.out, batch)
    chunk.out.write(Deal, batch)
    chunk.out.write(DealStageChange, changes)
    chunk.grown.deal_ids.extend(deal.pk for deal in batch)
    return len(batch)


def _activities(chunk: Chunk) -> int:
    tenant, rng, total = chunk.tenant, chunk.rng, chunk.total
    batch = []
    kinds = ["note"] * 4 + ["task"] * 2 + ["call"] * 2 + ["email", "meeting"]
    for n in chunk.numbers:
        created = _moment(rng, n / total)
        kind = rng.choice(kinds)
        link = rng.random()
        links: dict[str, Any] = {}
        if link < 0.6 and tenant.contact_ids:
            links["contact_id"] = rng.choice(tenant.contact_ids)
        elif link < 0.7 and tenant.companies:
            links["company_id"] = rng.choice(tenant.companies).pk
        elif link < 0.9 and tenant.lead_ids:
            links["lead_id"] = rng.choice(tenant.lead_ids)
        elif tenant.deal_ids:
            links["deal_id"] = rng.choice(tenant.deal_ids)
        due = created + timedelta(days=rng.randint(1, 14)) if kind == "task" else None
        batch.append(
            Activity(
                kind=kind,
                title=rng.choice(data.ACTIVITY_TITLES[kind]),
                body=rng.choice(("", "", "Details in the attached notes.", "Asked for a call back next week.")),
                occurred_at=created,
                duration_minutes=rng.choice((5, 15, 30, 60)) if kind in ("call", "meeting") else None,
                due_at=due,
                done_at=due if due and due < LAST_DAY - timedelta(days=7) else None,
                owner_id=rng.choice(tenant.owner_ids),
                created_at=created,
                updated_at=created,
                **links,
            )
        )
    chunk.out.write(Activity, batch)
    return len(batch)
