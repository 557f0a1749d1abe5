"""List pages say how many rows they have: exactly when few, "about N" from PostgreSQL's
planner or "more than N" on SQLite when an exact count would scan a large table."""

import re

import pytest

from custos.core import pagination
from custos.core.tenancy import tenant_scope
from custos.crm.models import Contact
from custos.crm.services.people import company_create, contact_create
from custos.privacy.models import Subject
from custos.testing import on_postgres, web_client
from custos.web.tests.sales import in_org_a


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 3)


def _contacts(cast, count, **data):
    for number in range(count):
        in_org_a(cast, contact_create, data={"last_name": f"Lind {number}", **data})


def _count_line(body):
    return body.split('<p class="muted list-count">')[1].split("</p>")[0]


def test_a_small_list_is_counted_exactly(cast):
    _contacts(cast, 2)
    assert _count_line(web_client(cast.alice).get("/contacts/").content.decode()) == "2 entries"
    in_org_a(cast, contact_create, data={"last_name": "Berg"})
    body = web_client(cast.alice).post("/contacts/", {"q": "Berg"}, headers={"HX-Request": "true"}).content.decode()
    assert _count_line(body) == "1 entry"


def test_a_large_list_is_estimated_without_counting_every_row(cast, small_limit):
    _contacts(cast, 5)
    line = _count_line(web_client(cast.alice).get("/contacts/").content.decode())
    if on_postgres():
        assert line.startswith("about ") and int(line.split()[1].replace(",", "")) >= 4
    else:
        assert line == "more than 3 entries"


def test_a_filter_that_leaves_few_rows_is_exact_again(cast, small_limit):
    _contacts(cast, 5)
    _contacts(cast, 2, tags=["fair"])
    body = web_client(cast.alice).post("/contacts/", {"tag": "fair"}).content.decode()
    assert _count_line(body) == "2 entries"


@pytest.mark.parametrize(
    ("path", "make"),
    [("/companies/", "company"), ("/leads/", "lead"), ("/deals/list/", "deal")],
)
def test_every_list_counts(cast, path, make):
    from custos.crm.services.deals import deal_create
    from custos.crm.services.leads import lead_create

    create, data = {
        "company": (company_create, {"name": "Lind GmbH"}),
        "lead": (lead_create, {"last_name": "Lind"}),
        "deal": (deal_create, {"name": "Chairs"}),
    }[make]
    in_org_a(cast, create, data=data)
    assert _count_line(web_client(cast.alice).get(path).content.decode()) == "1 entry"


def test_estimates_are_rounded_to_two_digits():
    assert [pagination.rounded(n) for n in (7, 12, 987, 10_001, 1_234_567)] == [7, 12, 990, 10_000, 1_200_000]


@pytest.mark.skipif(not on_postgres(), reason="PostgreSQL's row security")
def test_json_containment_is_leakproof_so_a_tag_filter_is_estimated_from_statistics(db):
    """Under the tenant wall the planner reads a column's statistics only for a LEAKPROOF
    condition: without the mark, 70,000 contacts tagged "vip" of a million showed as "about
    10,000" (docs/benchmarks.md)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT proleakproof FROM pg_proc WHERE proname = 'jsonb_contains'")
        assert cursor.fetchall() == [(True,)]


def test_a_filtered_count_is_exact_whatever_another_organisation_holds(cast):
    """The planner's estimate multiplies its conditions' shares as if independent: trusted
    alone, an organisation with no contact in Germany read "about 75" for another's 150."""
    from django.db import connection

    with tenant_scope(cast.org_b):
        mallory = cast.actor(cast.mallory)
        for number in range(150):
            contact_create(actor=mallory, data={"last_name": f"Nord {number}", "country": "DE", "tags": ["vip"]})
    _contacts(cast, 2, country="DE", tags=["vip"])
    _contacts(cast, 3, country="PL")
    if on_postgres():
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE crm_contact")
    client = web_client(cast.alice)
    assert _count_line(client.post("/contacts/", {"country": "DE"}).content.decode()) == "2 entries"
    assert _count_line(client.post("/contacts/", {"tag": "vip"}).content.decode()) == "2 entries"
    assert _count_line(client.post("/contacts/", {"country": "PL", "tag": "vip"}).content.decode()) == "0 entries"


def _stats(body):
    """The home page's figures, by the list each links to."""
    cards = body.split('<div class="cards">')[1]
    return {
        link: value.strip()
        for value, link in re.findall(r'<div class="stat">(.*?)</div><a href="([^"]+)"', cards, re.S)
    }


def test_the_home_page_counts_as_the_lists_do(cast, monkeypatch):
    """Exact and grouped by thousands when few; beyond the limit "about" or "more than", never
    a count of every contact."""
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 1_500)
    with tenant_scope(cast.org_a):
        people = Subject.objects.bulk_create([Subject() for _ in range(1_234)])
        Contact.objects.bulk_create(Contact(last_name=f"P{i}", subject=s) for i, s in enumerate(people))
    in_org_a(cast, company_create, data={"name": "Lind GmbH"})
    stats = _stats(web_client(cast.alice).get("/").content.decode())
    assert (stats["/contacts/"], stats["/companies/"]) == ("1,234", "1")

    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 1_000)
    contacts = _stats(web_client(cast.alice).get("/").content.decode())["/contacts/"]
    if on_postgres():
        assert contacts.startswith("about ")
    else:
        assert contacts == "more than 1,000"


@pytest.mark.parametrize(("path", "model"), [("/contacts/", "contact"), ("/leads/", "lead")])
def test_a_tag_filter_is_counted_from_the_index_of_tagged_records_on_sqlite(cast, path, model):
    """SQLite keeps no index on a JSON list's elements: counting up to 10,000 of a tag read
    every row (185 ms at a million contacts). Its own partial index of tagged records (crm
    0021) holds what the count needs; the filter repeats the index's condition to use it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from custos.crm.services.leads import lead_create

    make = contact_create if model == "contact" else lead_create
    # A tag holding another in quotes holds its quoted text (x"vip is stored as "x\"vip").
    for number, tags in enumerate([["vip"], ["fair", "vip"], [], ["VIP"], ["vipers"], ['x"vip']]):
        in_org_a(cast, make, data={"last_name": f"Lind {number}", "tags": tags})
    with CaptureQueriesContext(connection) as statements:
        body = web_client(cast.alice).post(path, {"tag": "vip"}).content.decode()

    assert _count_line(body) == "2 entries"  # in its case, as on PostgreSQL
    if not on_postgres():
        [count] = [q["sql"] for q in statements.captured_queries if q["sql"].startswith("SELECT COUNT(*)")]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {count}")
            plan = " ".join(str(step[-1]) for step in cursor.fetchall())
        assert f"COVERING INDEX {model}_org_tagged" in plan, plan
