"""The operator dashboard on the admin site's index: the account counts of admins.statistics (the
same as GET /admin/statistics) and sign-ins per day, as SVG."""

from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from admins.statistics import statistics
from common.models import AuditEvent

DAYS = 30
WIDTH, HEIGHT, PAD = 720, 180, 28
COLOURS = {"login.succeeded": "#2f855a", "login.failed": "#c53030"}


def sign_ins_per_day(today: date | None = None) -> list[dict[str, Any]]:
    """Successful and failed sign-ins (both realms) per day over the last 30 days, oldest first."""
    today = today or timezone.now().date()
    first = today - timedelta(days=DAYS - 1)
    rows = (
        AuditEvent.objects.filter(event__in=list(COLOURS), created_at__date__gte=first)
        .annotate(day=TruncDate("created_at"))
        .values("day", "event")
        .annotate(n=Count("id"))
    )
    counts = {(row["day"], row["event"]): row["n"] for row in rows}
    return [
        {
            "day": day,
            "succeeded": counts.get((day, "login.succeeded"), 0),
            "failed": counts.get((day, "login.failed"), 0),
        }
        for day in (first + timedelta(days=i) for i in range(DAYS))
    ]


def chart_svg(days: list[dict[str, Any]]) -> SafeString:
    """Grouped bars, one pair per day, with a title on each bar: readable without JavaScript."""
    peak = max([1] + [max(d["succeeded"], d["failed"]) for d in days])
    slot = (WIDTH - 2 * PAD) / len(days)
    bar = slot * 0.4
    scale = (HEIGHT - 2 * PAD) / peak

    def bars() -> SafeString:
        items = []
        for i, d in enumerate(days):
            for j, (key, event) in enumerate((("succeeded", "login.succeeded"), ("failed", "login.failed"))):
                h = d[key] * scale
                x = PAD + i * slot + j * bar
                items.append((f"{x:.1f}", f"{HEIGHT - PAD - h:.1f}", f"{bar:.1f}", f"{h:.1f}", COLOURS[event],
                              f"{d['day']:%b %d}: {d[key]} {key}"))  # fmt: skip
        return format_html_join(
            "", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>', items
        )

    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'aria-label="Sign-ins per day over the last {n} days" class="signin-chart">'
        '<line x1="{p}" y1="{base}" x2="{right}" y2="{base}" stroke="#888"/>'
        '<text x="{p}" y="{top}" font-size="11">{peak}</text>'
        '<text x="{p}" y="{label}" font-size="11">{first}</text>'
        '<text x="{right}" y="{label}" font-size="11" text-anchor="end">{last}</text>'
        "{bars}</svg>",
        w=WIDTH, h=HEIGHT, n=len(days), p=PAD, base=HEIGHT - PAD, right=WIDTH - PAD, top=PAD - 8,
        label=HEIGHT - 8, peak=peak, first=f"{days[0]['day']:%b %d}", last=f"{days[-1]['day']:%b %d}", bars=bars(),
    )  # fmt: skip


def context() -> dict[str, Any]:
    days = sign_ins_per_day()
    return {
        "counts": _counts(statistics()),
        "chart": chart_svg(days),
        "totals": {"succeeded": sum(d["succeeded"] for d in days), "failed": sum(d["failed"] for d in days)},
    }


def _counts(stats: dict[str, Any]) -> dict[str, int]:
    """The table of the dashboard, from the same numbers as GET /admin/statistics."""
    users = stats["users"]
    return {"users": users["total"], "active": users["active"], "locked": stats["logins"]["locked_now"],
            "deleted": users["deleted"], "new_this_week": users["new_7d"]}  # fmt: skip
