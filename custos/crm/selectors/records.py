"""What every CRM read shares: record scopes and searching what the actor may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, connections, models
from django.db.models.expressions import BaseExpression

from custos.core.actor import Actor, RecordScope
from custos.core.db.bulk import among
from custos.core.pagination import (
    EXACT_COUNT_LIMIT,
    ListCount,
    after_cursor,
    check_limit,
    counted_exactly,
    encode_cursor,
    list_count,
    paginate,
    planned_rows,
    rows_after,
    rows_of,
    rows_through,
)
from custos.crm.search import SOURCES, visible_search_fields
from custos.search.services import containing_text, matching_few_ids, matching_ids, matching_record, matching_text
from custos.search.text import query

# A searched list is first read in its own order, each row checked against its own search text
# (or its entries): WALK rows, then on in one statement that returns only the matches, until the
# page is full or WALK_BUDGET rows are read; the index is asked for every match otherwise
# (`searched_page`). At a million contacts sorted by name, WALK_BUDGET rows take about 10 ms.
WALK = 1_000
WALK_BUDGET = 30_000
# Search entries read from the index into memory at most, for page and count together.
ENTRIES_HELD = 3 * EXACT_COUNT_LIMIT
# PostgreSQL: when a list's first rows hold too few matches (`_too_sparse`), the index on the
# records' own text is asked first if the planner expects at most this many matches (with the
# contacts' finer histogram, crm 0020, good to a factor of two: 5,372 of a last name expected
# as 5,007, 3,304 as 1,002, 70,427 of an email domain as 52,067; with the default one, 5,372
# as 30,299 or 101). Beyond, gathering the matches costs more than walking on (77,000 of a
# domain: 40 ms).
# Matches among the first rows say little beyond their density: a name spread through emails
# and streets fills the page walking on (30 ms), a name found only in its own run of the list
# does not (60-70 ms, then the index); the index first costs 60-100 ms for 5,000-11,000 matches.
FIRST_EXPECTED = 2 * EXACT_COUNT_LIMIT


def scoped[M: models.Model](actor: Actor, queryset: models.QuerySet[M]) -> models.QuerySet[M]:
    """Narrow owned records to what the actor's record scope lets them see."""
    if actor.record_scope == RecordScope.ALL:
        return queryset
    if actor.record_scope == RecordScope.TEAM:
        return queryset.filter(owner_id__in=actor.team_member_ids)
    return queryset.filter(owner_id=actor.user_id)


def search[M: models.Model](
    actor: Actor, model_key: str, queryset: models.QuerySet[M], q: str, fields: tuple[str, ...] | None = None
) -> models.QuerySet[M]:
    """Records whose visible fields contain q, through the search index; a role cannot find
    a record by a field it may not see."""
    q = query(q)
    if not q:
        return queryset
    visible = visible_search_fields(actor, model_key, fields)
    if not visible:
        return queryset.none()
    return queryset.filter(pk__in=matching_ids(actor, model_key, q, visible))


@dataclass(frozen=True)
class _Walk:
    hits: list[Any]  # the matching rows' ids, in the list's order
    full: bool  # more rows follow
    last: list[str] | None  # the last row's values of the order's fields


def _walk(
    queryset: models.QuerySet[Any], match: BaseExpression, order: tuple[str, ...], after: Any, rows: int
) -> _Walk:
    """Read up to `rows` rows in order (after the `after` condition) and check each against
    `match`: one statement, the check the row's own search text (or its entries)."""
    names = [name.lstrip("-") for name in order]
    if after is not None:
        queryset = queryset.filter(after)
    read = list(queryset.order_by(*order).annotate(_hit=match).values_list(*names, "_hit")[: rows + 1])
    full, read = len(read) > rows, read[:rows]  # one row more: whether the list goes on
    last = [str(value) for value in read[-1][:-1]] if read else None
    return _Walk([row[names.index("pk")] for row in read if row[-1] is not None], full, last)


def _walk_on(
    queryset: models.QuerySet[Any], match: BaseExpression, order: tuple[str, ...], walk: _Walk, wanted: int
) -> _Walk:
    """Read on after the first `walk` until `wanted` matches are found or WALK_BUDGET rows are
    read, in the database: only the matches come back (`_matches_in`)."""
    if not (walk.full and len(walk.hits) < wanted and walk.last):
        return walk
    rest = queryset.filter(rows_after(order, walk.last))
    hits, more = _matches_in(rest, match, order, rows=WALK_BUDGET - WALK, wanted=wanted - len(walk.hits))
    return _Walk(walk.hits + hits, more, None)


def _too_sparse(walk: _Walk, size: int) -> bool:
    """Whether the first rows' matches, as dense further on, would leave the page short after
    WALK_BUDGET rows: for pages of 50, none or a stray one (a last name also in another
    person's email), whose walk on read 29,000 rows at a million contacts before the index was
    asked all the same; a page of 200 is short with up to six."""
    return len(walk.hits) * WALK_BUDGET < (size + 1) * WALK


def _matches_in(
    queryset: models.QuerySet[Any], match: BaseExpression, order: tuple[str, ...], *, rows: int, wanted: int
) -> tuple[list[Any], bool]:
    """The ids of the first `wanted` matches among the list's next `rows` rows, in order, and
    whether the list goes on past them. The window ends at its last row's values, so the
    database checks the rows in order as it reads them and stops at the last match wanted,
    or at the window's end (a set of ids instead would let a list sorted by name run on to
    the end of the table when the window holds too few matches: 14 s at a million)."""
    names = [name.lstrip("-") for name in order]
    ordered = queryset.order_by(*order)
    ends = list(ordered.values_list(*names)[rows - 1 : rows + 1])  # the window's last row, and one more
    window = ordered.filter(rows_through(order, [str(value) for value in ends[0]])) if ends else ordered
    hits = list(window.annotate(_hit=match).filter(_hit__isnull=False).values_list("pk", flat=True)[:wanted])
    return hits, len(hits) == wanted or len(ends) > 1


def searched_page[M: models.Model](
    actor: Actor,
    model_key: str,
    queryset: models.QuerySet[M],
    q: str,
    *,
    cursor: str | None,
    order: tuple[str, ...] = ("pk",),
    limit: int | None = None,
    counted: bool = True,
) -> tuple[list[M], str | None, ListCount | None]:
    """One page of a list searched for q, its next cursor, and the list's size, at a cost that
    does not grow with the number of matches.

    Asking the index for every match costs as much as there are matches (an email domain
    matches a hundred thousand contacts of a million), and so does ordering and counting them;
    reading the list in its own order and checking each row costs as much as the rows read
    before the page is full. So the list is read first (`_walk`, `_walk_on`); when matches are too
    sparse for that, the index gives them all. Where the index on the records' own search text
    can sort the matches (PostgreSQL; SQLite's FTS5) and the list's first rows hold too few, it is asked first:
    such a text is in few records, or in records far down the list's order (a last name, in a
    list sorted by name). The size (`_searched_count`) is exact where
    that is cheap, else "more than" the matches found; not `counted`, there is none (the
    API's pages carry no count).
    """
    size = check_limit(limit)
    q = query(q)
    if not q:
        rows, next_cursor = paginate(queryset, cursor=cursor, limit=size, order=order)
        return rows, next_cursor, list_count(queryset) if counted else None
    visible = visible_search_fields(actor, model_key)
    if not visible:
        return [], None, ListCount(0) if counted else None
    entries = matching_record(actor, model_key, q, visible)
    # The row's own search text holds every search field: for those who may see them all.
    every_field = set(visible) == set(SOURCES[model_key])
    match = matching_text(q, entries) if every_field else entries
    text = containing_text(queryset.model, q, entries) if every_field else None
    few = partial(matching_few_ids, actor, model_key, q, visible, most=FIRST_EXPECTED)
    indexed = _Indexed(queryset, matching_ids(actor, model_key, q, visible), text, few)
    after = after_cursor(order, cursor) if cursor else None
    walk = _walk(queryset, match, order, after, WALK)
    first = walk.full and _too_sparse(walk, size) and indexed.worth_asking_first()
    page = indexed.sorted_page(cursor, order, size) if first else None
    if page is None:
        walk = _walk_on(queryset, match, order, walk, size + 1)
    by_index = page is not None or (walk.full and len(walk.hits) <= size)
    if page is None and by_index:  # too sparse to read on: the index has them all
        page = indexed.page(cursor, order, size)
    if page is None:
        found = list(queryset.filter(pk__in=walk.hits[:size]).order_by(*order))
        page = found, encode_cursor(found[-1], order) if len(walk.hits) > size and found else None
    rows, next_cursor = page
    if not counted:
        return rows, next_cursor, None
    count = _searched_count(queryset, match, indexed, walk, from_start=not cursor, by_index=by_index)
    return rows, next_cursor, count


class _Indexed:
    """The list's rows the index finds, asked once for page and count: through the index on the
    records' own search text where there is one (`text`, PostgreSQL); on SQLite through the
    entries' query, sorted in one statement; else by their entries' ids when EXACT_COUNT_LIMIT
    records or fewer match, else through the entries' query each time."""

    def __init__(
        self,
        queryset: models.QuerySet[Any],
        entries: models.QuerySet[Any],
        text: models.Q | None = None,
        few: Callable[[], models.QuerySet[Any] | None] | None = None,
    ) -> None:
        self._queryset, self._entries, self._text, self._few = queryset, entries, text, few
        self._listed: int | None = None  # the matches a first page ordered, all of them
        self.beyond = False  # the text's index found more than EXACT_COUNT_LIMIT

    @cached_property
    def _ids(self) -> set[Any] | None:
        """A record matches by a few fields at most (a name also in its email): entries
        beyond three for each record held mean more records than are held."""
        entries = list(self._entries.values_list("object_id", flat=True)[: ENTRIES_HELD + 1])
        ids = set(entries)
        return ids if len(entries) <= ENTRIES_HELD and len(ids) <= EXACT_COUNT_LIMIT else None

    @property
    def records(self) -> models.QuerySet[Any]:
        if self._text is not None:
            return self._queryset.filter(self._text)
        if self.sorts or self._ids is None:
            return self._queryset.filter(pk__in=self._entries)
        return among(self._queryset, list(self._ids))  # thousands of ids: one array on PostgreSQL

    @property
    def sorts(self) -> bool:
        """Whether the database sorts and counts the matches itself, in one statement: through
        the records' own text's index, or on SQLite through FTS5 and the entries (the ids read
        into Python first and their rows' sort values after took 180 ms for the 5,900 contacts
        of a last name at a million, against 40)."""
        return self._text is not None or connection.vendor == "sqlite"

    def worth_asking_first(self) -> bool:
        """Whether to ask the index for the first page before reading on, the list's first rows
        holding too few matches (`_too_sparse`): where the planner expects few matches
        (PostgreSQL, through the records' own text); on SQLite, whose FTS5 index gives the
        matching entries in one look-up (the 29,000 rows read on first cost 15-20 ms at a
        million contacts, and a text (nearly) absent from the first thousand is mostly sparse
        or in one run far down the list), if FTS5 holds no more than FIRST_EXPECTED entries of
        it (`few`; reading 30,000 cost 15 ms): an email domain absent from a list's first rows
        may be in a hundred thousand others (German addresses after the Polish names first).
        Past `held` matches the list is read on as before."""
        if self._text is not None:
            return planned_rows(self.records) <= FIRST_EXPECTED
        few = self._few() if self._few is not None else None
        if few is None:
            return False
        self._entries = few  # the same entries, their FTS5 rows read already
        return True

    @property
    def held(self) -> int:
        """Matches sorted at most: SQLite has read every matching entry already (FTS5 gives
        them all at once), so sorting a few more costs little."""
        return EXACT_COUNT_LIMIT if self._text is not None else ENTRIES_HELD

    def sorted_page(self, cursor: str | None, order: tuple[str, ...], size: int) -> tuple[list[Any], str | None] | None:
        """The page in one statement, with every match counted; None if more than `held`
        records match."""
        records = self.records.filter(after_cursor(order, cursor)) if cursor else self.records
        found = _first_matches(records, order, size + 1, held=self.held)
        if found is None:
            self.beyond = True
            return None
        keys, matches = found
        return self._rows(keys, cursor, order, size, matches)

    def page(self, cursor: str | None, order: tuple[str, ...], size: int) -> tuple[list[Any], str | None]:
        """With the ids held, their order is asked for without a LIMIT: given one, PostgreSQL
        reads the list's sort index from its start, checking each row against the ids, and
        the matches may all lie near its end (measured: 2.3 s for a name starting with W).
        Too many matches to hold or sort: in the list's own order, through the index's query."""
        if self.sorts and not self.beyond and (page := self.sorted_page(cursor, order, size)) is not None:
            return page
        if self.sorts or self._ids is None:
            return paginate(self.records, cursor=cursor, limit=size, order=order, rows_from=self._queryset)
        records = self.records.filter(after_cursor(order, cursor)) if cursor else self.records
        keys = _ordered(records, order)
        return self._rows(keys, cursor, order, size, len(keys))

    def _rows(
        self, keys: list[tuple[Any, ...]], cursor: str | None, order: tuple[str, ...], size: int, matches: int
    ) -> tuple[list[Any], str | None]:
        """The page's rows, of the matches' sort values in order (`rows_of`); a first page
        keeps the count of every match."""
        if not cursor:
            self._listed = matches
        return rows_of(self._queryset, keys, order, size)

    def count(self) -> ListCount:
        """Exact where a first page has counted every match (with the ids held, or through the
        text's index); "more than EXACT_COUNT_LIMIT" where the text's index found more; else
        exact with the ids held, and as `list_count` has it otherwise."""
        if self._listed is not None:  # past EXACT_COUNT_LIMIT as a later page says it
            return ListCount(min(self._listed, EXACT_COUNT_LIMIT), exact=self._listed <= EXACT_COUNT_LIMIT)
        if self.beyond:
            return ListCount(EXACT_COUNT_LIMIT, exact=False)
        if self._text is None and self._ids is not None:
            return ListCount(self.records.count())
        return list_count(self.records)


def _ordered(records: models.QuerySet[Any], order: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The records' sort values, in order."""
    return list(records.order_by(*order).values_list(*(name.lstrip("-") for name in order)))


def _first_matches(
    records: models.QuerySet[Any], order: tuple[str, ...], limit: int, *, held: int
) -> tuple[list[tuple[Any, ...]], int] | None:
    """The sort values of the first `limit` records in order (each ending with the id), and
    how many there are, in one statement; None if more than `held` match. MATERIALIZED reads
    the matches through their own index first and sorts them after; given the LIMIT, the
    planner would rather walk the list's sort index from its start and check each row, and
    the matches may all lie near its end."""
    names = [name.lstrip("-") for name in order]
    meta = records.model._meta
    fields = [meta.pk if name == "pk" else meta.get_field(name) for name in names]
    matching = records.order_by().values_list(*names)[: held + 1]
    try:
        sql, params = matching.query.get_compiler(matching.db).as_sql()
    except EmptyResultSet:  # a condition that holds for no row (a text of accents alone)
        return [], 0
    columns = [f"c{position}" for position in range(len(order))]  # the matches' columns, renamed
    ordering = ", ".join(
        f"{column}{' DESC' if name.startswith('-') else ''}" for column, name in zip(columns, order, strict=True)
    )
    # Django's own compiled statement inside; every value a parameter.
    query = (
        f"WITH matches({', '.join(columns)}) AS MATERIALIZED ({sql}) "  # noqa: S608
        f"SELECT {', '.join(columns)}, count(*) OVER () FROM matches ORDER BY {ordering} LIMIT %s"
    )
    with connections[matching.db].cursor() as cursor:
        cursor.execute(query, [*params, limit])
        rows = cursor.fetchall()
    matches = rows[0][-1] if rows else 0
    if matches > held:
        return None
    # As the ORM gives them (SQLite returns a UUID as its text).
    return [
        tuple(field.to_python(value) for field, value in zip(fields, row[:-1], strict=True)) for row in rows
    ], matches


def _searched_count(
    queryset: models.QuerySet[Any],
    match: BaseExpression,
    indexed: _Indexed,
    walk: _Walk,
    *,
    from_start: bool,
    by_index: bool,
) -> ListCount:
    """Exact where that is cheap: the walk read the whole list, or the index gave the page,
    or the list holds EXACT_COUNT_LIMIT rows or fewer (each checked, as the walk does). Else
    what is certain, "more than" the matches found: a share of matches among the rows read
    would say "about" where matches cluster (an import is one run of rows) and be far off."""
    if not walk.full and from_start:
        return ListCount(len(walk.hits))
    if by_index:
        return indexed.count()
    if counted_exactly(queryset) is not None:
        return ListCount(queryset.annotate(_hit=match).filter(_hit__isnull=False).count())
    if indexed.beyond:  # the text's index found more before the walk filled the page
        return ListCount(EXACT_COUNT_LIMIT, exact=False)
    return ListCount(len(walk.hits), exact=False)
