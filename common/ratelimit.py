"""Rate limits on the Django cache (django-ratelimit), failing open when the cache is down.

Every limit is named in LIMITS, with the setting its rate comes from; callers say
`consume(request, "login", realm)`: the API views and the HTML login forms, and the few services
that decide mid-flow whether a limit applies (a provider's callback spends "login", and "register"
only when it creates an account: tokens.oidc.flow and .identities; a browser's passkey sign-in:
tokens.browser.sessions).
A limit counts per client IP unless a `key` is given (an account, an address); each realm
and each `scope` (forgot-password and resend-verification for "email") has a budget of its own.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from common import metrics
from common.exceptions import RateLimited
from common.net import client_ip
from common.realms import Realm

logger = logging.getLogger(__name__)


Rate = str | tuple[int, int]

# name -> its rate (read at call time, so settings changed in tests or by an operator apply)
LIMITS: dict[str, Callable[[], Rate]] = {
    # every login attempt (password, MFA code, admin site, browsable API) per IP
    "login": lambda: (settings.RATE_LIMIT_ATTEMPTS, settings.RATE_LIMIT_WINDOW_MINUTES * 60),
    "register": lambda: settings.REGISTER_RATE,  # registrations per IP
    "email": lambda: settings.EMAIL_RATE,  # mails a client can cause, per IP and per address
    "avatar": lambda: settings.AVATAR_RATE,  # image decodes, per IP and per account
}


def group_name(name: str, realm: Realm, scope: str = "") -> str:
    return ":".join(part for part in (name, scope, realm.name) if part)


def consume(request: HttpRequest, name: str, realm: Realm, *, scope: str = "", key: str | None = None) -> None:
    """Spend one unit of the named limit; 429 RATE_LIMITED with Retry-After when it is spent."""
    enforce(request, group=group_name(name, realm, scope), rate=LIMITS[name](), key=key)


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
