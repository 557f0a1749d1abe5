"""A searched list gives the same rows, pages and count whichever way it finds them: reading the
list in its own order (many matches) or asking the index for every match (few)."""

import pytest

from custos.api.tests.helpers import hide
from custos.core import pagination
from custos.core.pagination import ListCount
from custos.crm.models import Contact
from custos.crm.selectors import records
from custos.crm.selectors.people import contact_list
from custos.crm.selectors.records import search, searched_page
from custos.crm.services.people import contact_create


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
