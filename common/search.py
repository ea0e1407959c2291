"""Case-insensitive substring search that stays fast on large tables.

On PostgreSQL a trigram index answers `col ILIKE '%term%'` by intersecting the posting lists of the
term's trigrams. A trigram that nearly every row holds (the `example.com` of every address, a
prefix all usernames share) has a posting list as long as the table, so such a probe costs time in
proportion to the table, whatever it finds. The index is therefore probed with the longest part of
the term whose trigrams are rare in the column, judged from the planner's own sample of it
(`pg_stats`: the most common values with their frequencies, and the histogram). STRPOS, which no
index serves, then checks the whole term on the rows found. The answer is the same either way: a
value that holds the term holds every part of it. Without statistics (a table never analysed,
SQLite) the whole term is used.
"""

import re
import time
from collections import Counter
from functools import lru_cache

from django.db import connections
from django.db.models import Q, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan

COMMON = 0.05  # a trigram held by more than this share of the column's values is not worth probing
SAMPLE_TTL = 300  # seconds a process keeps a column's sample
_PROBEABLE = re.compile(r"[^\W_]{3}")  # pg_trgm needs three word characters to extract a trigram


def contains(alias: str, table: str, column: str, term: str) -> Q:
    """`column__icontains=term`, with the index probed by the term's rare part when it has one."""
    shares = _trigram_shares(alias, table, int(time.monotonic() // SAMPLE_TTL)).get(column, {})
    upper = term.upper()
    part = rare_part(upper, shares) if len(upper) == len(term) else None  # "ß".upper() is "SS"
    if part is None:
        return Q(**{f"{column}__icontains": term})
    start = upper.index(part)
    probe = term[start : start + len(part)]  # the term's own characters: the database upper-cases both sides
    whole = GreaterThan(StrIndex(Upper(column), Upper(Value(term))), 0)
    return Q(**{f"{column}__icontains": probe}) & Q(whole)


def rare_part(term: str, shares: dict[str, float]) -> str | None:
    """The longest part of `term` (upper case) whose trigrams each have a share <= COMMON, if it
    is shorter than the term and probeable; else None (probe with the whole term)."""
    if not shares:
        return None
    best_start, best_len, start = 0, 0, 0
    for i in range(len(term) - 1):
        trigram = term[i : i + 3]
        if len(trigram) == 3 and shares.get(trigram, 0.0) <= COMMON:
            continue
        # the run of rare trigrams starting at `start` ends before i
        if i - start > best_len:
            best_start, best_len = start, i - start
        start = i + 1
    part = term[best_start : best_start + best_len + 2] if best_len else ""
    return part if len(part) < len(term) and _PROBEABLE.search(part) else None


@lru_cache(maxsize=16)
def _trigram_shares(alias: str, table: str, _period: int) -> dict[str, dict[str, float]]:
    """Per column, the share of its values holding each trigram, from the planner's sample (one
    query per table and period); columns without statistics are left out."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, null_frac, most_common_vals::text::text[], most_common_freqs,"
            " histogram_bounds::text::text[] FROM pg_stats WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        return {column: _shares(*stats) for column, *stats in cursor.fetchall()}


def _shares(
    null_frac: float, common: list[str] | None, freqs: list[float] | None, histogram: list[str] | None
) -> dict[str, float]:
    weighted = list(zip(common or [], freqs or [], strict=True))
    if histogram:
        rest = max(0.0, 1.0 - null_frac - sum(freqs or []))
        weighted += [(value, rest / len(histogram)) for value in histogram]
    shares: Counter[str] = Counter()
    for value, weight in weighted:
        upper = value.upper()
        for trigram in {upper[i : i + 3] for i in range(len(upper) - 2)}:
            shares[trigram] += weight
    return dict(shares)
