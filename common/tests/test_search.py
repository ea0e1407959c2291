"""Substring search: the rare part a trigram index is probed with, and answers equal to a plain scan."""

import pytest
from django.apps import apps
from django.db import connection

from common import search

DEMO_SHARES = {"DEM": 1.0, "EMO": 1.0, "MO9": 0.11, "O99": 0.011, "999": 0.004, "99@": 0.01, "9@E": 0.1}
DEMO_SHARES |= dict.fromkeys(["@EX", "EXA", "XAM", "AMP", "MPL", "PLE"], 1.0)


@pytest.mark.parametrize(
    ("term", "part"),
    [
        ("DEMO999", "O999"),  # the prefix every username shares is left out of the probe
        ("DEMO99999", "O99999"),
        ("O99@EXAMPLE", "O99@"),  # so is the domain every address shares
        ("O99", None),  # nothing common: the whole term
        ("DEMO", None),  # nothing rare: the whole term
        ("DEMO9", None),
        ("9@EX", None),  # the rare part has no three word characters: pg_trgm could not probe it
        ("AB", None),
    ],
)
def test_rare_part(term, part):
    assert search.rare_part(term, DEMO_SHARES) == part


def test_no_statistics_means_the_whole_term():
    assert search.rare_part("DEMO999", {}) is None


def test_the_probe_is_made_of_the_terms_own_characters(monkeypatch):
    monkeypatch.setattr(search, "_trigram_shares", lambda *args: {"username": DEMO_SHARES})
    probe = search.contains("default", "accounts_user", "username", "Demo999")
    assert ("username__icontains", "o999") in probe.children
    # Upper-casing changes the length of "ß": no probe then, as positions would not map back.
    assert search.contains("default", "accounts_user", "username", "demoß999").children == [
        ("username__icontains", "demoß999")
    ]


@pytest.fixture
def analysed_users(db, postgres_only):
    """Rows whose usernames and addresses share a prefix and a domain, analysed by PostgreSQL."""
    user = apps.get_model("accounts", "User")
    rows = [user(username=f"demo{n}", email=f"demo{n}@example.com", name=f"Demo {n}", password="!") for n in range(400)]
    user.objects.bulk_create([*rows, user(username="carol", email="carol.jones@corp.example", password="!")])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE accounts_user")
    search._trigram_shares.cache_clear()
    yield user
    search._trigram_shares.cache_clear()


def test_shares_come_from_the_planners_sample(analysed_users):
    shares = search._trigram_shares("default", "accounts_user", 0)["email"]
    assert shares["DEM"] == pytest.approx(400 / 401, abs=0.01)
    assert shares["@EX"] == pytest.approx(shares["DEM"])
    assert shares.get("O39", 0) < search.COMMON


@pytest.mark.parametrize(
    "term",
    [
        "demo39",
        "emo399",
        "o39@example",
        "MO1@EXAMPLE.COM",
        "jones@corp",
        "s@c",
        "demo",
        "xdemo399",
        "jones@corp.example.com",
    ],
)
def test_probed_search_answers_as_a_plain_scan(analysed_users, term):
    everyone = list(analysed_users.objects.values_list("username", "email", "name"))
    expected = sorted(u for u, e, n in everyone if any(term.upper() in v.upper() for v in (u, e, n)))
    found = sorted(analysed_users.objects.search(term).values_list("username", flat=True))
    assert found == expected


@pytest.mark.parametrize(
    ("column", "term", "part"),
    [
        ("username", "demo39", "o39"),
        ("username", "xdemo399", "o399"),
        ("email", "jones@corp.example.com", "jones@corp.ex"),
    ],
)
def test_the_index_is_probed_with_the_rare_part(analysed_users, column, term, part):
    assert (f"{column}__icontains", part) in search.contains("default", "accounts_user", column, term).children
