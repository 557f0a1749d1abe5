"""A searched list gives the same rows, pages and count whichever way it finds them: reading the
list in its own order (many matches) or asking the index for every match (few)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from custos.api.tests.helpers import hide
from custos.core import pagination
from custos.core.pagination import ListCount
from custos.crm.models import Contact
from custos.crm.selectors import records
from custos.crm.selectors.people import contact_list
from custos.crm.selectors.records import search, searched_page
from custos.crm.services.people import company_create, contact_create
from custos.search.index import OVERFLOW
from custos.search.services import matching_record


@pytest.fixture
def small_walks(monkeypatch):
    """Walks of a few rows, so that a few dozen contacts hold every case."""
    monkeypatch.setattr(records, "WALK", 4)
    monkeypatch.setattr(records, "WALK_BUDGET", 12)


@pytest.fixture
def alice(cast, as_tenant):
    return cast.actor(cast.alice)


@pytest.fixture
def people(alice):
    """30 contacts: every second at gmx.de (many), two named Kowalski (few), names out of
    creation order so that the name order differs from the id order."""
    for number in range(30):
        last_name = "Kowalski" if number in (7, 23) else f"Name{(number * 7) % 30:02d}"
        domain = "gmx.de" if number % 2 == 0 else "example.org"
        contact_create(actor=alice, data={"first_name": "P", "last_name": last_name, "email": f"p{number}@{domain}"})


def _pages(actor, q, order, limit):
    """Every page of the searched list, following the cursors; and the counts shown."""
    rows, counts, cursor = [], [], None
    while True:
        page, cursor, count = searched_page(
            actor, "contact", contact_list(actor), q, cursor=cursor, order=order, limit=limit
        )
        rows.append([c.last_name + c.email for c in page])
        counts.append(count)
        if cursor is None:
            return rows, counts


def _expected(actor, q, order):
    return [c.last_name + c.email for c in search(actor, "contact", contact_list(actor), q).order_by(*order)]


@pytest.mark.usefixtures("small_walks", "people")
@pytest.mark.parametrize("order", [("pk",), ("-pk",), ("last_name", "first_name", "pk")])
@pytest.mark.parametrize("q", ["gmx.de", "Kowalski", "p1", "nobody-has-this"])
def test_pages_hold_every_match_once_in_order(alice, q, order):
    pages, _counts = _pages(alice, q, order, limit=3)
    found = [row for page in pages for row in page]
    assert found == _expected(alice, q, order)
    assert all(len(page) == 3 for page in pages[:-1])  # only the last page is short


@pytest.mark.usefixtures("small_walks", "people")
@pytest.mark.parametrize("order", [("pk",), ("last_name", "first_name", "pk")])
def test_a_text_of_several_words_finds_them_as_written_not_apart(alice, order):
    """The index is asked for the text's words one by one (SQLite: `fts_words`); only values
    holding the text itself are matches."""
    for name in ("Baumann & Schumacher GmbH", "Schumacher & Baumann GmbH & Co. KG", "Schumacher Baumann GmbH"):
        company = company_create(actor=alice, data={"name": name})
        contact_create(actor=alice, data={"last_name": name.split()[0], "company": str(company.pk)})
    q = "Schumacher & Baumann GmbH"

    pages, counts = _pages(alice, q, order, limit=3)

    assert _expected(alice, q, order) == [row for page in pages for row in page] == ["Schumacher"]
    assert counts == [ListCount(1)]


@pytest.mark.usefixtures("small_walks", "people")
def test_many_matches_in_a_short_list_are_counted_exactly(alice):
    page, cursor, count = searched_page(alice, "contact", contact_list(alice), "gmx.de", cursor=None, limit=3)
    assert len(page) == 3 and cursor is not None
    assert count == ListCount(15)


@pytest.mark.usefixtures("small_walks", "people")
def test_many_matches_in_a_long_list_are_more_than_those_found(alice, monkeypatch):
    """Beyond the exact-count limit only what is certain is said: a share of the first rows
    would be far off where matches cluster (here: every second row matches, but the count
    must not claim more than it saw)."""
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 10)
    _page, _cursor, count = searched_page(alice, "contact", contact_list(alice), "gmx.de", cursor=None, limit=3)
    assert not count.exact and not count.estimated
    assert 4 <= count.value <= 15  # at least a page and one, never more than there are


@pytest.mark.usefixtures("small_walks")
def test_clustered_matches_are_never_overstated(alice, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 20)
    for number in range(40):
        domain = "acme.de" if number < 8 else "example.org"
        contact_create(actor=alice, data={"last_name": f"Lind {number:02d}", "email": f"p{number}@{domain}"})
    _page, _cursor, count = searched_page(alice, "contact", contact_list(alice), "acme.de", cursor=None, limit=3)
    assert count.value <= 8 and not count.estimated


@pytest.mark.usefixtures("small_walks")
def test_a_list_exactly_as_long_as_a_walk_is_counted_exactly(alice):
    for number in range(4):
        contact_create(actor=alice, data={"last_name": f"Lind {number}", "email": f"p{number}@gmx.de"})
    _page, cursor, count = searched_page(alice, "contact", contact_list(alice), "gmx.de", cursor=None, limit=3)
    assert cursor is not None and count == ListCount(4)


@pytest.mark.usefixtures("small_walks", "people")
def test_few_matches_are_counted_exactly_through_the_index(alice):
    _page, _cursor, count = searched_page(alice, "contact", contact_list(alice), "Kowalski", cursor=None, limit=3)
    assert count == ListCount(2)


@pytest.mark.usefixtures("people")
def test_a_list_read_whole_is_counted_exactly(alice):
    # The default walk is longer than the list: every row was checked.
    _page, _cursor, count = searched_page(alice, "contact", contact_list(alice), "gmx.de", cursor=None, limit=50)
    assert count == ListCount(15)


@pytest.mark.usefixtures("small_walks", "people")
def test_a_field_the_role_may_not_see_finds_nothing(cast):
    hide(cast, "admin", "contact.email")
    alice = cast.actor(cast.alice)
    assert searched_page(alice, "contact", contact_list(alice), "gmx.de", cursor=None) == ([], None, ListCount(0))
    assert len(searched_page(alice, "contact", contact_list(alice), "Kowalski", cursor=None)[0]) == 2


@pytest.mark.usefixtures("small_walks", "people")
def test_the_walk_respects_the_record_scope(cast, alice):
    """A sales rep sees their own contacts only, however the page is found."""
    sam = cast.actor(cast.sam)
    mine = contact_create(actor=sam, data={"last_name": "Own", "email": "own@gmx.de"})
    page, _cursor, count = searched_page(sam, "contact", contact_list(sam), "gmx.de", cursor=None)
    assert [c.pk for c in page] == [mine.pk] and count == ListCount(1)
    assert Contact.objects.filter(email__endswith="@gmx.de").count() == 16


NAME = ("last_name", "first_name", "pk")


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize("order", [("pk",), ("-pk",), NAME, ("-last_name", "-first_name", "-pk")])
def test_past_its_first_rows_the_walk_returns_only_matches_within_its_window(alice, order):
    """The rest of a walk is one statement: the first matches wanted among the next rows, in
    the list's order, never one beyond the rows it may read; and whether the list goes on."""
    listed = contact_list(alice).order_by(*order)
    ids = list(listed.values_list("pk", flat=True))
    gmx = set(listed.filter(email__endswith="@gmx.de").values_list("pk", flat=True))
    in_order = [pk for pk in ids if pk in gmx]
    match = matching_record(alice, "contact", "gmx.de", ["email"])

    assert records._matches_in(listed, match, order, rows=30, wanted=3) == (in_order[:3], True)
    assert records._matches_in(listed, match, order, rows=5, wanted=10) == ([pk for pk in ids[:5] if pk in gmx], True)
    # The window reaches the list's end: nothing follows what it holds.
    assert records._matches_in(listed, match, order, rows=30, wanted=20) == (in_order, False)
    assert records._matches_in(listed, match, order, rows=31, wanted=20) == (in_order, False)
    after_tenth = listed.filter(pk__in=ids[10:])
    assert records._matches_in(after_tenth, match, order, rows=30, wanted=2) == (
        [pk for pk in ids[10:] if pk in gmx][:2],
        True,
    )


@pytest.fixture
def clustered(alice, monkeypatch):
    """Matches many, but none among the list's first rows by name: 12 people at example.org
    named A…, then 8 at gmx.de named Z… (one country's domain among its own names)."""
    monkeypatch.setattr(records, "WALK", 4)
    monkeypatch.setattr(records, "WALK_BUDGET", 30)
    for number in range(20):
        last, domain = (f"A{number:02d}", "example.org") if number < 12 else (f"Z{number:02d}", "gmx.de")
        contact_create(actor=alice, data={"first_name": "P", "last_name": last, "email": f"c{number}@{domain}"})


@pytest.mark.usefixtures("clustered")
def test_matches_clustered_past_the_first_rows_are_read_from_the_list_when_the_index_holds_many(alice, monkeypatch):
    """Asking the index for all of many matches costs seconds at a million; the list read on
    finds them in order within its budget. (On PostgreSQL the index on the contacts' own text
    is asked first, none being among the first rows; it holds more than it may sort.)"""
    monkeypatch.setattr(records, "EXACT_COUNT_LIMIT", 5)
    monkeypatch.setattr(records._Indexed, "page", lambda *args: pytest.fail("asked the index for every match"))

    pages, _counts = _pages(alice, "gmx.de", NAME, limit=3)

    assert [row for page in pages for row in page] == _expected(alice, "gmx.de", NAME)
    assert len(pages) == 3


@pytest.mark.usefixtures("clustered")
def test_matches_beyond_the_walks_budget_come_from_the_index(alice, monkeypatch):
    monkeypatch.setattr(records, "WALK_BUDGET", 8)  # the list's first 8 rows: none at gmx.de

    with CaptureQueriesContext(connection) as first_page:
        searched_page(alice, "contact", contact_list(alice), "gmx.de", cursor=None, order=NAME, limit=3)
    pages, counts = _pages(alice, "gmx.de", NAME, limit=3)

    assert [row for page in pages for row in page] == _expected(alice, "gmx.de", NAME)
    assert counts == [ListCount(8)] * 3
    # The first page counts the matches it has ordered: no statement counts them again.
    assert not [q for q in first_page.captured_queries if q["sql"].upper().startswith("SELECT COUNT(")]


@pytest.mark.usefixtures("people")
def test_a_window_ending_inside_a_tie_on_the_name_holds_only_its_rows(alice):
    """The two Kowalskis share both names: a window of one row ends between them."""
    listed = contact_list(alice).order_by(*NAME)
    kowalskis = list(listed.filter(last_name="Kowalski").values_list("pk", flat=True))
    match = matching_record(alice, "contact", "Kowalski", ["name"])

    assert records._matches_in(listed, match, NAME, rows=1, wanted=5) == (kowalskis[:1], True)
    assert records._matches_in(listed, match, NAME, rows=2, wanted=5) == (kowalskis, True)


@pytest.mark.parametrize("order", [NAME, tuple(f"-{name}" for name in NAME)])
def test_the_index_orders_its_matches_as_the_database_does_letters_beyond_ascii_too(alice, monkeypatch, order):
    monkeypatch.setattr(records, "WALK", 2)
    monkeypatch.setattr(records, "WALK_BUDGET", 3)  # the index answers
    for number, last in enumerate(["Żak", "Zak", "Özil", "Oz", "éclair", "Eclair", "zak", "Ärger", "Aal", "Ångström"]):
        for first in ("Ñoño", "Nono"):
            contact_create(
                actor=alice,
                data={"first_name": first, "last_name": last, "email": f"c{number}{len(first.encode())}@same.example"},
            )
    pages, _counts = _pages(alice, "same.example", order, limit=3)
    assert [row for page in pages for row in page] == _expected(alice, "same.example", order)


@pytest.mark.usefixtures("clustered")
@pytest.mark.parametrize("stored", [OVERFLOW, None])
def test_the_index_finds_a_record_whose_text_overflowed_or_was_never_written_by_its_entries(alice, monkeypatch, stored):
    monkeypatch.setattr(records, "WALK_BUDGET", 8)  # the list's first 8 rows: none at gmx.de
    Contact.objects.filter(last_name__in=["Z12", "Z15"]).update(search_text=stored)
    Contact.objects.filter(last_name="A01").update(search_text=stored)  # not at gmx.de: stays out

    pages, counts = _pages(alice, "gmx.de", NAME, limit=3)

    assert [row for page in pages for row in page] == _expected(alice, "gmx.de", NAME)
    assert counts == [ListCount(8)] * 3


@pytest.mark.usefixtures("clustered")
def test_the_index_answers_at_once_when_the_first_rows_hold_no_match(alice):
    """One statement finds, orders and counts the matches right after the first rows' walk
    found none: on PostgreSQL through the contacts' own search text, where the planner
    expects few (search entries are read only for a record whose text overflowed); on SQLite
    through the entries of the FTS5 rows, read first where they are few."""
    with CaptureQueriesContext(connection) as first_page:
        page, cursor, count = searched_page(
            alice, "contact", contact_list(alice), "gmx.de", cursor=None, order=NAME, limit=3
        )

    assert [c.last_name for c in page] == ["Z12", "Z13", "Z14"] and cursor and count == ListCount(8)
    statements = [q["sql"] for q in first_page.captured_queries]
    # The first rows' walk, the estimate of the matches, the matches, the page's rows.
    assert len(statements) == 4 and statements[2].startswith("WITH matches")
    if connection.vendor == "postgresql":
        assert statements[1].startswith("EXPLAIN") and '"crm_contact"."search_text" ~~~' in statements[2]
        assert not [sql for sql in statements if 'FROM "search_searchentry"' in sql[:200]]
    else:
        assert statements[1].startswith("SELECT rowid FROM search_entry_fts")
        assert "json_each" in statements[2] and "search_entry_fts" not in statements[2]


@pytest.mark.usefixtures("clustered")
def test_a_stray_match_among_the_first_rows_does_not_keep_the_index_waiting(alice, monkeypatch):
    """One match in the first rows (another person's email holding the text) is too sparse
    to fill the page within the walk's budget: the index answers at once, that match in its
    place among the others."""
    monkeypatch.setattr(records, "WALK_BUDGET", 12)  # one hit in 4 rows: 3 in 12, the page wants 4
    contact_create(actor=alice, data={"first_name": "P", "last_name": "A00x", "email": "stray@gmx.de"})
    pages, _counts = _pages(alice, "gmx.de", NAME, limit=3)
    assert [row for page in pages for row in page] == _expected(alice, "gmx.de", NAME)
    monkeypatch.setattr(records, "_matches_in", lambda *args, **kwargs: pytest.fail("read on past the first rows"))

    with CaptureQueriesContext(connection) as first_page:
        page, cursor, count = searched_page(
            alice, "contact", contact_list(alice), "gmx.de", cursor=None, order=NAME, limit=3
        )

    assert [c.last_name for c in page] == ["A00x", "Z12", "Z13"] and cursor and count == ListCount(9)
    assert [q for q in first_page.captured_queries if q["sql"].startswith("WITH matches")]


@pytest.mark.usefixtures("clustered")
@pytest.mark.parametrize("budget", [8, 30])
def test_more_matches_than_the_index_may_sort_are_read_on_in_the_lists_order(alice, monkeypatch, budget):
    """Past EXACT_COUNT_LIMIT the index on the text gives up: the walk reads on (budget 30
    reaches the matches) or the index's condition is read in the list's order (budget 8)."""
    monkeypatch.setattr(records, "EXACT_COUNT_LIMIT", 5)
    monkeypatch.setattr(records, "WALK_BUDGET", budget)

    pages, counts = _pages(alice, "gmx.de", NAME, limit=3)

    assert [row for page in pages for row in page] == _expected(alice, "gmx.de", NAME)
    if budget == 8:  # more than the first page may count exactly: "more than", on either database
        assert counts[0] == ListCount(5, exact=False)


@pytest.mark.usefixtures("clustered")
def test_many_expected_matches_are_walked_to_before_the_index_is_asked(alice, monkeypatch):
    """Gathering 77,000 matches of an email domain through the index took 40 ms, more than
    the walk on; the planner's estimate says when (SQLite: the FTS5 rows, read up to a bound)."""
    monkeypatch.setattr(records, "FIRST_EXPECTED", 0)
    monkeypatch.setattr(records, "WALK_BUDGET", 30)  # reaches the matches

    with CaptureQueriesContext(connection) as first_page:
        page, _cursor, _count = searched_page(
            alice, "contact", contact_list(alice), "gmx.de", cursor=None, order=NAME, limit=3
        )

    assert [c.last_name for c in page] == ["Z12", "Z13", "Z14"]
    assert not [q for q in first_page.captured_queries if q["sql"].startswith("WITH matches")]


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize("change", ["renamed", "deleted"])
def test_a_row_changed_between_a_pages_ids_and_its_rows_moves_no_other_row_off_the_list(alice, change):
    """A page's sort values are read first, its rows after: the next cursor comes from the
    values, so a row renamed to the end of the list (or deleted) in between skips nothing."""
    listed = contact_list(alice)
    before = [c.pk for c in listed.order_by(*NAME)]
    keys = list(listed.order_by(*NAME).values_list("last_name", "first_name", "pk")[:4])
    moved = Contact.objects.filter(pk=keys[0][-1])
    if change == "renamed":
        moved.update(last_name="Zzz")
    else:
        moved.delete()

    rows, cursor = pagination.rows_of(listed, keys, NAME, 3)
    following, _next = pagination.paginate(contact_list(alice), cursor=cursor, limit=3, order=NAME)

    assert [c.pk for c in rows] == [key[-1] for key in keys[:3] if key[-1] != keys[0][-1] or change == "renamed"]
    assert [c.pk for c in following] == before[3:6]


@pytest.mark.usefixtures("small_walks", "people")
@pytest.mark.parametrize("q", ["´", "¨"])
def test_a_search_of_marks_alone_finds_nothing_whichever_way_it_looks(alice, q):
    """A text that is nothing once its accents are set aside matches no record; past the walk's
    budget the index is asked, and answers an empty page too."""
    page, cursor, count = searched_page(
        alice, "contact", contact_list(alice), q, cursor=None, order=("last_name", "first_name", "pk"), limit=3
    )
    assert (page, cursor, count) == ([], None, ListCount(0))
