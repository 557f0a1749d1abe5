"""Search and list timings, taken the way the application runs them.

The actor is the big tenant's owner (every record in scope: the most a search or a list
has to look at), built by `actor_for` as the middleware builds it; on PostgreSQL the
queries therefore run as the application role with row-level security on.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import phonenumbers
from django.db import connection
from django.test import Client

from bench.data import TAGS
from bench.generate import BIG_TENANT
from custos.accounts.access import actor_for
from custos.accounts.models import Membership
from custos.core.actor import Via
from custos.core.models import Organization
from custos.core.pagination import encode_cursor
from custos.core.tenancy import tenant_scope
from custos.crm.models import Company, Contact
from custos.crm.selectors.filters import ORDERINGS
from custos.crm.selectors.search import global_search

WARM_UP = 20
QUERIES_PER_KIND = 30  # 9 kinds: 270 timed searches
NAME_ORDER = ORDERINGS["contact"]["name"]


def summary(samples_ms: list[float]) -> dict[str, float]:
    """p50, p95 and max of timings in milliseconds."""
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
    }


def big_tenant() -> tuple[Organization, Membership]:
    org = Organization.objects.get(name=BIG_TENANT)
    owner = Membership.objects.select_related("org", "user").get(org=org, role__key="owner")
    return org, owner


def stored() -> dict[str, int]:
    """The size of the data a run finds: the big tenant's contacts."""
    org, _owner = big_tenant()
    with tenant_scope(org):
        return {"scale": Contact.objects.count()}


def sample(model: Any, count: int, rng: random.Random) -> list[Any]:
    """`count` records drawn evenly from the whole table (one pass over the primary key index)."""
    total = model.objects.count()
    wanted = set(rng.sample(range(total), min(count, total)))
    ids = [
        pk for n, pk in enumerate(model.objects.values_list("id", flat=True).iterator(chunk_size=10_000)) if n in wanted
    ]
    found = model.objects.in_bulk(ids)
    records = [found[pk] for pk in ids if pk in found]
    rng.shuffle(records)
    return records


def _typo(rng: random.Random, word: str) -> str:
    """One slip of the finger: two neighbouring letters swapped, or one left out."""
    if len(word) < 5:
        return word
    at = rng.randrange(1, len(word) - 2)
    if rng.random() < 0.5:
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return word[:at] + word[at + 1 :]


def search_queries(rng: random.Random, per_kind: int = QUERIES_PER_KIND) -> list[tuple[str, str]]:
    """(kind, text) pairs built from stored records: what people type into the search box."""
    contacts = sample(Contact, per_kind * 2, rng)
    companies = sample(Company, per_kind, rng)
    with_email = [c for c in contacts if c.email][:per_kind]
    with_phone = [c for c in contacts if c.phone][:per_kind]
    queries: list[tuple[str, str]] = []
    for contact in contacts[:per_kind]:
        queries.append(("full name", f"{contact.first_name} {contact.last_name}"))
        queries.append(("last name", contact.last_name))
        queries.append(("partial name", contact.last_name[: max(3, len(contact.last_name) // 2 + 1)].lower()))
        queries.append(("typo", _typo(rng, contact.last_name)))
    for contact in with_email:
        queries.append(("email", contact.email))
        queries.append(("email part", contact.email.split("@")[0]))
    for contact in with_phone:
        number = phonenumbers.parse(contact.phone, None)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        queries.append(("phone, other format", national if rng.random() < 0.5 else national.replace(" ", "-")))
    for company in companies:
        queries.append(("company", company.name))
        queries.append(("company word", company.name.split(" ")[0]))
    rng.shuffle(queries)
    return queries


def _time(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def search(seed: int = 1, *, quick: bool = False) -> dict[str, Any]:
    """The search box's selector (`global_search`, 50 results as the page shows) over ≥200 queries
    (a few dozen when `quick`)."""
    rng = random.Random(seed)
    org, owner = big_tenant()
    with tenant_scope(org):
        actor = actor_for(owner, via=Via.WEB)
        queries = search_queries(rng, per_kind=4 if quick else QUERIES_PER_KIND)
        for _kind, text in queries[: 3 if quick else WARM_UP]:
            global_search(actor, text, limit=50)
        by_kind: dict[str, list[float]] = {}
        found = 0
        for kind, text in queries:
            elapsed, results = _time(partial(global_search, actor, text, limit=50))
            by_kind.setdefault(kind, []).append(elapsed)
            found += bool(results)
    everything = [ms for samples in by_kind.values() for ms in samples]
    return {
        **summary(everything),
        "queries_with_results": round(found / len(everything), 3),
        "by_kind": {kind: summary(samples) for kind, samples in sorted(by_kind.items())},
    }


def contact_list(seed: int = 1, repeats: int = 60) -> dict[str, Any]:
    """The contact list page through the whole Django stack (session, middleware, template),
    50 rows: the first page, a page deep into the list, the list searched for what people
    search it for, filtered and sorted. The summary is that of the searched, filtered and
    sorted pages."""
    rng = random.Random(seed)
    org, owner = big_tenant()
    with tenant_scope(org):
        contacts = sample(Contact, repeats, rng)
        companies = sample(Company, repeats, rng)
    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host, as a browser on the machine sends
    client.force_login(owner.user)
    variants: dict[str, Callable[[int], Any]] = {
        "first page": lambda n: client.get("/contacts/"),
        "deep page (cursor)": lambda n: client.get("/contacts/", {"cursor": encode_cursor(contacts[n])}),
        "filtered: last name": lambda n: client.post("/contacts/", {"q": contacts[n].last_name}),
        "filtered: email domain": lambda n: client.post("/contacts/", {"q": _domain(contacts[n])}),
        "filtered: company": lambda n: client.post("/contacts/", {"q": companies[n % len(companies)].name}),
        "filtered: tag": lambda n: client.post("/contacts/", {"q": TAGS[n % len(TAGS)]}),
        # The list's own filters and sort orders (posted, like the search words).
        "sorted: name A–Z": lambda n: client.post("/contacts/", {"order": "name"}),
        "filtered: tag, sorted: name A–Z": lambda n: client.post(
            "/contacts/", {"tag": TAGS[n % len(TAGS)], "order": "name"}
        ),
        "filtered: country, sorted: newest first": lambda n: client.post(
            "/contacts/", {"country": ("DE", "PL", "AT")[n % 3], "order": "-created"}
        ),
        # Searched and sorted: the walk then reads the list in name order, not by id.
        "filtered: last name, sorted: name A–Z": lambda n: client.post(
            "/contacts/", {"q": contacts[n].last_name, "order": "name"}
        ),
        "filtered: email domain, sorted: name A–Z": lambda n: client.post(
            "/contacts/", {"q": _domain(contacts[n]), "order": "name"}
        ),
        "deep page (cursor), sorted: name A–Z": lambda n: client.get(
            "/contacts/", {"cursor": encode_cursor(contacts[n], NAME_ORDER), "order": "name"}
        ),
    }
    results: dict[str, Any] = {}
    filtered: list[float] = []
    for name, request in variants.items():
        for n in range(min(5 if repeats > 5 else 1, len(contacts))):  # warm-up
            request(n)
        samples, rows = [], []
        for n in range(repeats):
            elapsed, response = _time(partial(request, n % len(contacts)))
            if response.status_code != 200:
                break
            samples.append(elapsed)
            rows.append(response.content.count(b"<tr") - 1)  # less the header row
        if response.status_code != 200:  # reported, and left out of the summary
            results[name] = {"error": f"HTTP {response.status_code}"}
            continue
        results[name] = {**summary(samples), "rows_on_page_p50": sorted(rows)[len(rows) // 2]}
        if name.startswith(("filtered", "sorted")):
            filtered.extend(samples)
    return {**summary(filtered), "variants": results}


def _domain(contact: Contact) -> str:
    return contact.email.split("@")[-1] if contact.email else "gmx.de"


def database_version() -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"
