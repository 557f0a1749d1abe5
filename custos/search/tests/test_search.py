"""One search over companies, contacts, leads and deals: what it finds, and what it must not."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from custos.accounts.models import Role
from custos.core.tenancy import tenant_scope
from custos.crm.search import reindex_all
from custos.crm.selectors.leads import lead_list
from custos.crm.selectors.people import contact_list
from custos.crm.services.deals import deal_create
from custos.crm.services.leads import lead_create
from custos.crm.services.people import (
    company_create,
    company_update,
    contact_bulk_create,
    contact_create,
    contact_delete,
    contact_update,
)
from custos.search.engines import starting_with
from custos.search.models import SearchEntry
from custos.search.services import _slipped_words, find, one_slip_apart, similarity, slip_variants
from custos.search.text import normalise, query


def _names(queryset):
    return sorted(f"{c.first_name} {c.last_name}".strip() for c in queryset)


@pytest.fixture
def people(cast):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        kurz = company_create(actor=actor, data={"name": "Kurz Dentallabor GmbH", "vat_id": "DE129273398"})
        ada = contact_create(
            actor=actor,
            data={
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@analytical.example",
                "phone": "030 12345678",
                "company": str(kurz.pk),
                "tags": ["vip"],
                "health_notes": "Penicillin allergy",
            },
        )
        jurgen = contact_create(
            actor=actor, data={"first_name": "Jürgen", "last_name": "Müller", "phone": "+48 22 628 31 00"}
        )
        sams = contact_create(actor=cast.actor(cast.sam), data={"first_name": "Samuel", "last_name": "Own"})
    return {"company": kurz, "ada": ada, "jurgen": jurgen, "sams": sams}


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("lovelace", ["Ada Lovelace"]),
        ("LOVE", ["Ada Lovelace"]),
        ("analytical.example", ["Ada Lovelace"]),
        ("030 12345678", ["Ada Lovelace"]),
        ("+49 30 1234-5678", ["Ada Lovelace"]),
        ("(030) 123 456 78", ["Ada Lovelace"]),
        ("0049 30 12345678", ["Ada Lovelace"]),
        ("+49 (0)30 12345678", ["Ada Lovelace"]),
        ("dentallabor", ["Ada Lovelace"]),
        ("vip", ["Ada Lovelace"]),
        ("muller", ["Jürgen Müller"]),
        ("Jürgen", ["Jürgen Müller"]),
        ("22 628", ["Jürgen Müller"]),
        ("nobody here", []),
    ],
)
def test_a_list_search_finds_by_name_email_phone_in_any_format_company_and_tag(cast, people, q, found):
    with tenant_scope(cast.org_a):
        assert _names(contact_list(cast.actor(cast.alice), q=q)) == found


def test_special_category_data_is_never_indexed(cast, people):
    with tenant_scope(cast.org_a):
        assert _names(contact_list(cast.actor(cast.alice), q="penicillin")) == []
        assert not SearchEntry.objects.filter(value__contains="penicillin").exists()


def test_a_field_hidden_from_the_role_cannot_be_searched(cast, people):
    with tenant_scope(cast.org_a):
        Role.objects.filter(key="admin").update(hidden_fields=["contact.phone", "contact.email"])
        actor = cast.actor(cast.alice)
        assert _names(contact_list(actor, q="030 12345678")) == []
        assert _names(contact_list(actor, q="analytical")) == []
        assert _names(contact_list(actor, q="lovelace")) == ["Ada Lovelace"]


def test_the_record_scope_holds_in_search(cast, people):
    with tenant_scope(cast.org_a):
        assert _names(contact_list(cast.actor(cast.sam), q="o")) == ["Samuel Own"]
        assert [h.object_id for h in find(cast.actor(cast.sam), "lovelace", fields={"contact": ["name"]})] == []


def test_another_organisations_records_never_match(cast, people):
    with tenant_scope(cast.org_b):
        contact_create(actor=cast.actor(cast.mallory), data={"first_name": "Ada", "last_name": "Lovelace-Bravo"})
    with tenant_scope(cast.org_a):
        assert _names(contact_list(cast.actor(cast.alice), q="lovelace")) == ["Ada Lovelace"]
    with tenant_scope(cast.org_b):
        assert _names(contact_list(cast.actor(cast.mallory), q="lovelace")) == ["Ada Lovelace-Bravo"]


def test_the_global_search_forgives_typos_and_ranks_the_closest_first(cast, people):
    with tenant_scope(cast.org_a):
        lead_create(actor=cast.actor(cast.alice), data={"first_name": "Adam", "last_name": "Lovell"})
        hits = find(cast.actor(cast.alice), "Lovelase", fields={"contact": ["name"], "lead": ["name"]})
        assert hits[0].object_id == people["ada"].pk and hits[0].object_type == "contact"
        assert find(cast.actor(cast.alice), "Mueller", fields={"contact": ["name"]})[0].object_id == people["jurgen"].pk
        assert find(cast.actor(cast.alice), "zzzzzz", fields={"contact": ["name"]}) == []


@pytest.mark.parametrize("typed", ["Mülelr", "Mulelr", "Mluler", "Mülller"])
def test_a_name_one_slip_away_is_found_even_where_it_shares_few_trigrams(cast, people, typed):
    """Two letters swapped in a short name leave it few trigrams in common ("mulelr" and
    "muller": 3 of 11), below the similarity a typo must reach; one slip is a typo still."""
    with tenant_scope(cast.org_a):
        hits = find(cast.actor(cast.alice), typed, fields={"contact": ["name"]})

    assert [hit.object_id for hit in hits] == [people["jurgen"].pk]


def test_one_slip_is_a_swap_or_one_character_left_out_added_or_changed():
    assert one_slip_apart("mulelr", "jurgen muller") and one_slip_apart("mullr", "muller")
    assert one_slip_apart("mulller", "muller") and one_slip_apart("muxler", "muller gmbh")
    assert one_slip_apart("ana shmidt", "ana schmidt") and not one_slip_apart("muller", "muller")
    assert not one_slip_apart("mxxler", "muller") and not one_slip_apart("mulelr", "mullerova")
    variants = slip_variants("schmtiz")
    assert {"schmitz", "schtiz", "schmtz", "schmtizx"} <= set(variants) and "schmtiz" not in variants
    assert "enger" in slip_variants("ener") and "ene" not in slip_variants("ener")
    assert all(v.strip() == v and "  " not in v for v in slip_variants("an na"))


@pytest.mark.parametrize("typed", ["abc\U0010ffff", "abc\ud7ff", "ab\ud7ff\U0010ffff", "\U0010ffff", "ab\ud800c"])
def test_a_text_with_the_last_characters_of_unicode_is_looked_up_without_error(cast, typed):
    """A word's start is a range up to the next character: there is none after U+10FFFF, and
    the one after U+D7FF is a surrogate, which no text may hold (nor may a search's)."""
    with tenant_scope(cast.org_a):
        contact_bulk_create(actor=cast.actor(cast.alice), items=[{"first_name": "Jan", "last_name": "Kowalski"}])
        assert find(cast.actor(cast.alice), typed, fields={"contact": ["name"]}) == []
        assert starting_with(SearchEntry.objects.all(), query(typed)).count() == 0


def test_a_typo_is_found_however_many_names_start_like_its_variants(cast):
    """Only a whole word one slip away is read: the many names that merely start with a
    variant ("Eber…" for "ener") take none of the look-up's rows."""
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        names = [f"{start}{n:03d}" for start in ("Eber", "Eder", "Eger", "Eier") for n in range(60)]
        contact_bulk_create(actor=actor, items=[{"first_name": name, "last_name": "X"} for name in names])
        (enger,) = contact_bulk_create(actor=actor, items=[{"first_name": "Ida", "last_name": "Enger"}])
        hits = find(actor, "Ener", fields={"contact": ["name"]})

    assert [hit.object_id for hit in hits] == [enger.pk]


def test_the_index_follows_changes_and_deletions(cast, people):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        contact_update(actor=actor, contact=people["ada"], data={"last_name": "Byron"})
        assert _names(contact_list(actor, q="lovelace")) == []
        assert _names(contact_list(actor, q="byron")) == ["Ada Byron"]
        company_update(actor=actor, company=people["company"], data={"name": "Analytical Engines AG"})
        assert _names(contact_list(actor, q="engines")) == ["Ada Byron"]
        contact_delete(actor=actor, contact=people["ada"])
        assert not SearchEntry.objects.filter(object_id=people["ada"].pk).exists()


def test_entries_belong_to_the_person_so_erasure_can_find_them(cast, people):
    with tenant_scope(cast.org_a):
        subjects = set(SearchEntry.objects.filter(object_id=people["ada"].pk).values_list("subject_id", flat=True))
        assert subjects == {people["ada"].subject_id}


def test_leads_and_deals_are_searchable_too(cast, people):
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        lead_create(actor=actor, data={"first_name": "Grace", "last_name": "Hopper", "company_name": "Navy"})
        deal_create(actor=actor, data={"name": "Compiler licence", "company": str(people["company"].pk)})
        assert [f"{x.first_name} {x.last_name}" for x in lead_list(actor, q="navy")] == ["Grace Hopper"]
        hits = find(actor, "compiler", fields={"deal": ["name", "company"]})
        assert [h.object_type for h in hits] == ["deal"]


def test_rebuilding_the_index_gives_the_same_entries(cast, people):
    with tenant_scope(cast.org_a):
        before = sorted(SearchEntry.objects.values_list("object_id", "field", "value"))
        SearchEntry.objects.all().delete()
        reindex_all()
        assert sorted(SearchEntry.objects.values_list("object_id", "field", "value")) == before


def test_text_is_normalised_the_same_way_for_index_and_query():
    assert normalise("  Müller  STRAßE ") == "muller strasse"
    assert similarity("lovelase", "lovelace") > 0.4
    assert similarity("abc", "xyz") == 0.0


def test_the_reindex_command_rebuilds_every_organisation(cast, people):
    from io import StringIO

    from django.core.management import call_command

    with tenant_scope(cast.org_a):
        SearchEntry.objects.all().delete()
    out = StringIO()
    call_command("search", "reindex", stdout=out)
    assert "acme-praxis: 4 records indexed" in out.getvalue()
    with tenant_scope(cast.org_a):
        assert _names(contact_list(cast.actor(cast.alice), q="lovelace")) == ["Ada Lovelace"]


def test_one_or_two_letters_find_the_values_starting_with_them(cast, people):
    with tenant_scope(cast.org_a):
        hits = find(cast.actor(cast.alice), "Ad", fields={"contact": ["name"]})
        assert [h.object_id for h in hits] == [people["ada"].pk]
        assert find(cast.actor(cast.alice), "y", fields={"contact": ["name"]}) == []


def test_a_text_found_as_typed_is_not_mixed_with_lookalikes(cast, people):
    with tenant_scope(cast.org_a):
        adam = lead_create(actor=cast.actor(cast.alice), data={"first_name": "Adam", "last_name": "Lovell"})
        fields = {"contact": ["name"], "lead": ["name"]}
        assert [h.object_id for h in find(cast.actor(cast.alice), "Lovell", fields=fields)] == [adam.pk]
        both = find(cast.actor(cast.alice), "Lovel", fields=fields)
        assert [h.object_id for h in both] == [adam.pk, people["ada"].pk]  # the shorter value first


def test_a_text_inside_a_word_is_found_beside_one_starting_a_word_on_both_databases(cast, people):
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        mannheim = company_create(actor=actor, data={"name": "Mannheim Dental GmbH"})
        hoffmann = contact_create(actor=actor, data={"first_name": "Erika", "last_name": "Hoffmann"})

        hits = find(actor, "mann", fields={"contact": ["name"], "company": ["name"]})

        assert [h.object_id for h in hits] == [hoffmann.pk, mannheim.pk]  # the shorter value first


@pytest.mark.parametrize(
    ("typed", "statements"),
    [
        # From a word's start: the two b-tree ranges, and no trigram look-up after them (a
        # long text, a company's name or an email, is contained in few values).
        ("jan.kowalski@nordwind.exam", 2),
        # At no word's start: inside words too, through the trigram index (FTS5 on SQLite).
        ("kowalski@nordwind.exam", 3),
    ],
)
def test_a_long_text_is_looked_up_inside_words_only_when_no_word_starts_so(cast, typed, statements):
    with tenant_scope(cast.org_a):
        people = contact_bulk_create(
            actor=cast.actor(cast.alice),
            items=[{"last_name": "Kowalski", "email": "jan.kowalski@nordwind.example"}],
        )
        with CaptureQueriesContext(connection) as ran:
            hits = find(cast.actor(cast.alice), typed, fields={"contact": ["email"]})

    assert [hit.object_id for hit in hits] == [people[0].pk]
    assert sum("search_searchentry" in query["sql"] for query in ran.captured_queries) == statements


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's planner")
def test_sqlite_looks_up_a_second_words_start_in_its_partial_index(cast):
    """SQLite uses an index on an expression only for the expression as the index spells it:
    the look-up must repeat migration 0010's literally, or it reads the FTS5 index instead."""
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        people = contact_bulk_create(actor=actor, items=[{"first_name": "Jan", "last_name": "Kowalski"}])
        hits = find(actor, "Kowal", fields={"contact": ["name"]})
        sql, params = starting_with(SearchEntry.objects.all(), "kowal", "custos_second_word").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())

    assert [hit.object_id for hit in hits] == [people[0].pk]
    assert "USING INDEX search_entry_second_word" in plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's choice of index")
def test_sqlite_looks_up_one_short_word_through_fts5_alone(cast):
    """FTS5 finds a short word at a word's start and inside words in one look-up, quicker than
    the two b-trees for so few trigrams; several words go to the b-trees first."""
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        people = contact_bulk_create(actor=actor, items=[{"first_name": "Jan", "last_name": "Kowalski"}])
        with CaptureQueriesContext(connection) as one_word:
            inside = find(actor, "owalsk", fields={"contact": ["name"]})
        with CaptureQueriesContext(connection) as two_words:
            whole = find(actor, "Jan Kowalski", fields={"contact": ["name"]})

    assert [hit.object_id for hit in inside] == [hit.object_id for hit in whole] == [people[0].pk]
    looked_up = [query["sql"] for query in one_word.captured_queries if "search_searchentry" in query["sql"]]
    assert len(looked_up) == 1
    assert "search_entry_fts" in looked_up[0]
    assert "instr(search_searchentry.value" in " ".join(query["sql"] for query in two_words.captured_queries)


@pytest.mark.parametrize("typed", ["Kowlaski", "Kowalki", "Kowalsski", "Kowalsko", "Okwalski", "Nowka Jan", "Ener"])
def test_a_names_typo_is_found_at_a_words_start_through_the_b_trees(cast, typed):
    """The typo's variants one slip away are looked up as word starts (the value's, its second
    word's) in one statement: what the search tries before the trigram indexes."""
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        kowalski, nowak = contact_bulk_create(
            actor=actor, items=[{"first_name": "Jan", "last_name": "Kowalski"}, {"first_name": "Nowak Jan"}]
        )
        enger, _ = contact_bulk_create(
            actor=actor,
            items=[{"first_name": "Ida", "last_name": "Enger"}, {"first_name": "Ewa", "last_name": "Kowal"}],
        )
        entries = SearchEntry.objects.filter(object_type="contact", field="name")
        found = {object_id for _, object_id, _ in _slipped_words(entries, normalise(typed))}

    expected = {"Nowka Jan": nowak, "Ener": enger}.get(typed, kowalski)
    assert found == {expected.pk}


def test_a_typo_at_a_words_start_finds_nothing_another_organisation_or_member_holds(cast):
    with tenant_scope(cast.org_b):
        contact_bulk_create(actor=cast.actor(cast.mallory), items=[{"first_name": "Jan", "last_name": "Kowalski"}])
    with tenant_scope(cast.org_a):
        contact_bulk_create(actor=cast.actor(cast.alice), items=[{"first_name": "Ewa", "last_name": "Kowalski"}])
        by_sales = find(cast.actor(cast.sam), "Kowlaski", fields={"contact": ["name"]})
        by_admin = find(cast.actor(cast.alice), "Kowlaski", fields={"contact": ["name"]})

    assert by_sales == [] and len(by_admin) == 1


def test_several_words_found_at_a_words_start_are_not_looked_for_inside_words(cast):
    """A name of several words is typed from its start: inside words only when nothing
    starts with it; one short word is looked for inside words too ("mann" in "Hoffmann")."""
    actor = cast.actor(cast.alice)
    with tenant_scope(cast.org_a):
        mann = company_create(actor=actor, data={"name": "Mann GmbH"})
        hoffmann = company_create(actor=actor, data={"name": "Hoffmann GmbH"})

        def found(q):
            return {hit.object_id for hit in find(actor, q, fields={"company": ["name"]})}

        assert found("Mann GmbH") == {mann.pk}
        assert found("mann") == {mann.pk, hoffmann.pk}
        assert found("ffmann gmbh") == {hoffmann.pk}


def test_a_result_found_by_another_field_shows_no_name_hidden_from_the_role(cast, people):
    """Found by its company's name, a deal whose name the role may not see is named by kind."""
    from custos.crm.selectors.search import global_search

    with tenant_scope(cast.org_a):
        deal_create(actor=cast.actor(cast.alice), data={"name": "Secret merger", "company": str(people["company"].pk)})
        Role.objects.filter(key="admin").update(hidden_fields=["deal.name"])
        labels = [r.label for r in global_search(cast.actor(cast.alice), people["company"].name, types=["deal"])]

    assert labels and not any("Secret" in label for label in labels)
    assert all(label.startswith("Deal ") for label in labels)


def test_rebuilding_the_index_finds_no_erased_person_again(cast, people):
    """Not even by the name of the company they worked for."""
    from custos.crm.selectors.search import global_search
    from custos.privacy.services.erasure import subject_erase

    with tenant_scope(cast.org_a):
        ada = contact_create(
            actor=cast.actor(cast.alice), data={"last_name": "Quarz", "company": str(people["company"].pk)}
        )
        subject_erase(actor=cast.actor(cast.alice), subject=ada.subject)
        reindex_all()
        found = global_search(cast.actor(cast.alice), people["company"].name, types=["contact"])

    assert ada.pk not in {r.object_id for r in found}


def test_a_whole_word_ranks_above_a_word_it_only_starts(cast):
    """ "Meier" is Karl-Heinz Meier's name, and only the start of Jo Meierling's: the longer
    value matching the whole word comes first."""
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        meierling = contact_create(actor=actor, data={"first_name": "Jo", "last_name": "Meierling"})
        meier = contact_create(actor=actor, data={"first_name": "Karl-Heinz", "last_name": "Meier"})
        hits = find(actor, "Meier", fields={"contact": ["name"]})

    assert [hit.object_id for hit in hits] == [meier.pk, meierling.pk]


@pytest.mark.parametrize("typed", ["O'Brien", "O\u2019Brien", "OBrien", "obrien"])
def test_a_name_with_an_apostrophe_is_found_however_the_apostrophe_is_typed(cast, typed):
    """Found by the bug hunt: a phone's keyboard types a right single quotation mark where a
    desktop's types ', and many leave it out; "obrien" found nobody on SQLite."""
    with tenant_scope(cast.org_a):
        actor = cast.actor(cast.alice)
        sean = contact_create(actor=actor, data={"first_name": "Seán", "last_name": "O\u2019Brien"})
        contact_create(actor=actor, data={"first_name": "Brian", "last_name": "Obst"})
        hits = find(actor, typed, fields={"contact": ["name"]})
        listed = contact_list(actor, q=typed.split()[0])

    assert [hit.object_id for hit in hits][:1] == [sean.pk]
    assert hits[0].score > 1  # found as typed, not as a typo
    assert [c.pk for c in listed] == [sean.pk]
