"""The page shape of docs/api.md §3, with strict query parameter validation.

Two ways through a list: `page` (OFFSET; fine for the first pages) and `cursor` (keyset:
as fast on the millionth row as on the first). `total` is exact up to COUNT_EXACT_UP_TO
matches; above that, on PostgreSQL, it is the planner's estimate (a COUNT(*) over millions
of rows would cost more than the page itself).
"""

import json
import math
from datetime import UTC
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from common.crypto import b64url_decode, b64url_encode
from common.exceptions import ValidationFailed
from common.serializers import OutputSerializer

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
COUNT_EXACT_UP_TO = 10_000


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)  # past the end: empty items, no query
    page_size = serializers.IntegerField(min_value=1, default=DEFAULT_PAGE_SIZE)  # capped below
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=512)  # "": from the start


def paginate(
    queryset: QuerySet,
    query_params: Any,
    serializer: type[serializers.Serializer],
    *,
    context: dict[str, Any] | None = None,
    selective: bool = False,
) -> dict[str, Any]:
    """Slice `queryset` by `page`/`page_size` (or `cursor`), shape the items with `serializer`, and
    return the page dict; 400 on bad values.

    `selective`: the filter is expected to match few rows (a search), so on PostgreSQL the count
    and the page come from one pass over the matches (see `_one_pass`).
    """
    keys = ("page", "page_size", "cursor")
    params = PageParams(data={k: query_params[k] for k in keys if k in query_params})
    params.is_valid(raise_exception=True)

    def serialize(items: list) -> list:
        if issubclass(serializer, OutputSerializer):
            return [serializer.represent(item, context) for item in items]
        return serializer(items, many=True, context=context or {}).data

    page_size = min(params.validated_data["page_size"], MAX_PAGE_SIZE)
    if "cursor" in params.validated_data:
        cursor = params.validated_data["cursor"]
        total = count(queryset)
        items = list((after_cursor(queryset, cursor) if cursor else queryset)[: page_size + 1])
        more, items = len(items) > page_size, items[:page_size]
        next_cursor = encode_cursor(_position(queryset, items[-1])) if more else None
        return {**_page(serialize(items), None, page_size, total), "next_cursor": next_cursor}
    page = params.validated_data["page"]
    offset = (page - 1) * page_size
    total, items = _one_pass(queryset, offset, page_size) if selective else (count(queryset), None)
    if items is None:
        items = list(queryset[offset : offset + page_size]) if offset < total else []
    return _page(serialize(items), page, page_size, total)


def _page(items: list, page: int | None, page_size: int, total: int) -> dict[str, Any]:
    return {"items": items, "page": page, "page_size": page_size, "total": total, "pages": math.ceil(total / page_size)}


def count(queryset: QuerySet) -> int:
    """Exact up to COUNT_EXACT_UP_TO (a count that stops there: one cheap query); above, see
    `_count_above_cap`."""
    exact = queryset.order_by().values("pk")[: COUNT_EXACT_UP_TO + 1].count()
    return exact if exact <= COUNT_EXACT_UP_TO else _count_above_cap(queryset)


def _count_above_cap(queryset: QuerySet) -> int:
    """More than COUNT_EXACT_UP_TO rows match: on PostgreSQL the planner's estimate (counting
    millions of rows costs more than the page), elsewhere the exact count."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count()
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        estimate = int(cursor.fetchone()[0][0]["Plan"]["Plan Rows"])
    return max(estimate, COUNT_EXACT_UP_TO + 1)


def _one_pass(queryset: QuerySet, offset: int, limit: int) -> tuple[int, list | None]:
    """The count and the page from one pass over the matches, for filters that match few rows.

    On PostgreSQL, when at most COUNT_EXACT_UP_TO rows match, one statement gives the exact count
    and the page's ids in order, and a second fetches those rows by primary key, rather than
    running the filter once to count and again for the page. Otherwise (count, None): the caller
    fetches the page itself.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return count(queryset), None
    field, descending = _ordering(queryset)
    cap = COUNT_EXACT_UP_TO + 1
    by_pk = field in ("id", "pk")
    matches = queryset.order_by().values_list("pk", *([] if by_pk else [field]))  # columns named as here
    sql, params = matches[:cap].query.sql_with_params()
    direction, name = ("DESC" if descending else "ASC"), connection.ops.quote_name("pk" if by_pk else field)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT COUNT(*), (ARRAY_AGG(m."pk" ORDER BY m.{name} {direction}, m."pk" {direction}))[%s:%s]'
            f" FROM ({sql}) m",
            (min(offset, cap) + 1, min(offset + limit, cap), *params),  # bounded: array subscripts are int4
        )
        total, ids = cursor.fetchone()
    if total > COUNT_EXACT_UP_TO:
        return _count_above_cap(queryset), None
    rows = queryset.model._base_manager.using(queryset.db).in_bulk(ids or [])
    return total, [rows[pk] for pk in ids or []]


# --- Keyset cursors ---------------------------------------------------------------------


def encode_cursor(position: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(position, default=str).encode())


BIGINT = 2**63 - 1


def _decode(cursor: str) -> dict[str, Any]:
    try:
        position = json.loads(b64url_decode(cursor))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(position, dict) or not _is_bigint(position.get("id")):
        raise _bad_cursor()
    return position


def _is_bigint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -BIGINT <= value <= BIGINT


def _cursor_value(queryset: QuerySet, field: str, value: Any) -> Any:
    """The cursor's ordering value, of the column's own type (anything else is a 400, not a 500)."""
    kind = queryset.model._meta.get_field(field).get_internal_type()
    if kind == "DateTimeField":
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # well-formed but impossible (month 13)
            parsed = None
        if parsed is None:
            raise _bad_cursor()
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)
    if kind in ("IntegerField", "BigIntegerField", "PositiveIntegerField", "AutoField", "BigAutoField"):
        if not _is_bigint(value):
            raise _bad_cursor()
        return value
    if not isinstance(value, str) or "\x00" in value:
        raise _bad_cursor()
    return value


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(details={"cursor": ["Invalid cursor: use a next_cursor from an earlier page."]})


def _ordering(queryset: QuerySet) -> tuple[str, bool]:
    """The first ordering field and whether it descends (the list's tie-breaker is always id)."""
    first = (queryset.query.order_by or ("id",))[0]
    return first.lstrip("-"), first.startswith("-")


def _position(queryset: QuerySet, item: Any) -> dict[str, Any]:
    field, _ = _ordering(queryset)
    position = {"id": item.pk}
    if field not in ("id", "pk"):
        position["v"] = getattr(item, field)
    return position


def after_cursor(queryset: QuerySet, cursor: str) -> QuerySet:
    """The rows after the cursor's position in the queryset's ordering (ordering, then id)."""
    position = _decode(cursor)
    field, descending = _ordering(queryset)
    op = "lt" if descending else "gt"
    if field in ("id", "pk"):
        return queryset.filter(**{f"pk__{op}": position["id"]})
    value = _cursor_value(queryset, field, position.get("v"))
    return queryset.filter(Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": position["id"]}))
