"""The page shape of docs/api.md §3, with strict query parameter validation."""

import math
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, default=DEFAULT_PAGE_SIZE)


def paginate(queryset: QuerySet, query_params: Any, serialize: Callable[[list], list]) -> dict[str, Any]:
    """Slice `queryset` by `page`/`page_size` (400 on bad values) and return the page dict."""
    params = PageParams(data={k: query_params[k] for k in ("page", "page_size") if k in query_params})
    params.is_valid(raise_exception=True)
    page = params.validated_data["page"]
    page_size = min(params.validated_data["page_size"], MAX_PAGE_SIZE)
    total = queryset.count()
    offset = (page - 1) * page_size
    items = list(queryset[offset : offset + page_size]) if offset < total else []
    return {
        "items": serialize(items),
        "page": page,
        "page_size": page_size,
        "total": total,
        "pages": math.ceil(total / page_size) if total else 0,
    }
