"""The operator's numbers (docs/api.md §25): accounts, sign-ins and sign-ups, for GET
/admin/statistics and the admin site's dashboard alike. Exact counts, computed in four queries
and kept in the Django cache (Redis in production) for at most MAX_AGE seconds."""

import contextlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from admins.models import Admin
from common.models import AuditEvent

MAX_AGE = 60
CACHE_KEY = "admin-statistics:v1"
SIGNUP_DAYS = 30


def statistics() -> dict[str, Any]:
    """The Statistics object, at most MAX_AGE seconds old (the cache failing means fresh counts)."""
    kept = None
    with contextlib.suppress(Exception):  # a cache outage only costs the queries
        kept = cache.get(CACHE_KEY)
    if kept is not None:
        return kept
    fresh = compute()
    with contextlib.suppress(Exception):
        cache.set(CACHE_KEY, fresh, MAX_AGE)
    return fresh


def compute(now: Any = None) -> dict[str, Any]:
    now = now or timezone.now()
    alive = Q(deleted_at__isnull=True)
    users = User.objects.aggregate(
        total=Count("id", filter=alive),
        active=Count("id", filter=alive & Q(is_active=True)),
        inactive=Count("id", filter=alive & Q(is_active=False)),
        deleted=Count("id", filter=~alive),
        verified=Count("id", filter=alive & Q(email_verified=True)),
        mfa_enabled=Count("id", filter=alive & Q(mfa_enabled=True)),
        new_24h=Count("id", filter=alive & Q(created_at__gte=now - timedelta(hours=24))),
        new_7d=Count("id", filter=alive & Q(created_at__gte=now - timedelta(days=7))),
        locked=Count("id", filter=alive & Q(locked_until__gt=now)),
    )
    admins = Admin.objects.aggregate(
        total=Count("id", filter=alive),
        active=Count("id", filter=alive & Q(is_active=True)),
        locked=Count("id", filter=alive & Q(locked_until__gt=now)),
    )
    logins = AuditEvent.objects.filter(
        event__in=("login.succeeded", "login.failed"), created_at__gte=now - timedelta(hours=24)
    ).aggregate(
        succeeded_24h=Count("id", filter=Q(event="login.succeeded")),
        failed_24h=Count("id", filter=Q(event="login.failed")),
    )
    return {
        "users": {key: users[key] for key in users if key != "locked"},
        "admins": {"total": admins["total"], "active": admins["active"]},
        "logins": {**logins, "locked_now": users["locked"] + admins["locked"]},
        "signups_30d": signups(now.date()),
    }


def signups(today: date) -> list[dict[str, Any]]:
    """Users registered per UTC day over the 30 days ending today, oldest first, zeros included
    (accounts deleted since count: they signed up)."""
    first = today - timedelta(days=SIGNUP_DAYS - 1)
    rows = (
        User.objects.filter(created_at__gte=datetime.combine(first, time.min, tzinfo=UTC))
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
    )
    counts = {row["day"]: row["n"] for row in rows}
    days = (first + timedelta(days=i) for i in range(SIGNUP_DAYS))
    return [{"date": day.isoformat(), "count": counts.get(day, 0)} for day in days]
