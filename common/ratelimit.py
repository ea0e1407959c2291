"""Rate limits on the Django cache (django-ratelimit), failing open when the cache is down."""

import logging

from django.db import DatabaseError
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from common import metrics
from common.exceptions import RateLimited
from common.net import client_ip

logger = logging.getLogger(__name__)


def enforce(request: HttpRequest, *, group: str, rate: str | tuple[int, int], key: str | None = None) -> None:
    """Count this request against the client IP's budget (or `key`'s); 429 with Retry-After when over it.

    With the cache unreachable the request goes through (account lockout still
    protects logins) and the failure is logged.
    """
    try:
        usage = get_usage(
            request, group=group, key="ip" if key is None else (lambda _group, _request: key), rate=rate, increment=True
        )
    except (RedisError, DatabaseError):
        logger.warning("Rate limit cache unavailable; %s from %s not counted", group, client_ip(request), exc_info=True)
        return
    if usage is not None and usage["should_limit"]:
        metrics.RATE_LIMITED.labels(group=group).inc()
        raise RateLimited(retry_after=max(1, usage["time_left"]))
