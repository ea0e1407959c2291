"""User management by admins (docs/api.md §7)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from common import pagination, search
from common.tests.factories import PASSWORD, UserFactory
from common.tests.utils import assert_error, assert_ok, bearer
from tokens.tests.factories import PersonalAccessTokenFactory

MANAGED_KEYS = {
    "email_verified",
    "pending_email",
    "mfa_enabled",
    "id", "username", "name", "email", "phone", "avatar_url", "is_active", "created_at", "last_login_at",
    "failed_login_attempts", "is_locked", "locked_until", "deleted_at",
}  # fmt: skip


@pytest.fixture
def auth(admin_token):
    return bearer(admin_token)


def listing(client, auth, **params):
    return assert_ok(client.get("/admin/users", params, **auth))


class TestList:
    def test_pagination_totals_and_pages(self, api_client, auth):
        UserFactory.create_batch(57)
        page = listing(api_client, auth)
        assert (page["page"], page["page_size"], page["total"], page["pages"]) == (1, 20, 57, 3)
        assert len(page["items"]) == 20
        assert set(page["items"][0]) == MANAGED_KEYS
        last = listing(api_client, auth, page=3)
        assert len(last["items"]) == 17
        assert listing(api_client, auth, page=4)["items"] == []
        assert listing(api_client, auth, page_size=1000)["page_size"] == 100

    @pytest.mark.parametrize(
        "params",
        [
            {"page": 0},
            {"page": -1},
            {"page": "x"},
            {"page_size": 0},
            {"page_size": "many"},
            {"ordering": "password"},
            {"ordering": "-name"},
            {"is_active": "maybe"},
            {"deleted": "all"},
        ],
    )
    def test_bad_parameters_are_400(self, api_client, auth, params):
        assert_error(api_client.get("/admin/users", params, **auth), 400, "VALIDATION_ERROR")

    def test_search_by_part_of_an_email_in_upper_case(self, api_client, auth):
        UserFactory(email="carol.jones@corp.example")
        UserFactory(email="dave@other.example")
        page = listing(api_client, auth, search="JONES@CORP")
        assert [u["email"] for u in page["items"]] == ["carol.jones@corp.example"]

    @pytest.mark.parametrize(
        ("term", "found"),
        [
            ("jones@corp.ex", ["carol"]),
            ("jones@other", []),  # the part before "@" matches carol, the whole term matches no one
            ("es@c", ["carol"]),  # too short a part before "@" to probe the index with alone
            ("@other.example", ["dave"]),
            ("s_@", []),  # "_" and "%" are literal characters, not wildcards
            ("@%", []),
        ],
    )
    def test_search_by_a_term_with_an_at_sign_matches_the_whole_term(self, api_client, auth, term, found):
        UserFactory(username="carol", email="carol.jones@corp.example")
        UserFactory(username="dave", email="dave@other.example")
        assert [u["username"] for u in listing(api_client, auth, search=term)["items"]] == found

    def test_search_by_username_name_and_phone(self, api_client, auth):
        UserFactory(username="zed", name="Zed Zebra", phone="+15557654321")
        UserFactory(username="amy", name="Amy")
        for term in ("ZE", "zebra", "765432"):
            assert [u["username"] for u in listing(api_client, auth, search=term)["items"]] == ["zed"]

    @pytest.mark.parametrize("field", ["id", "username", "email", "created_at"])
    def test_each_ordering(self, api_client, auth, field):
        for i, name in enumerate(["mike", "alpha", "zulu"]):
            user = UserFactory(username=name, email=f"{name}@example.com")
            User.objects.filter(pk=user.pk).update(created_at=timezone.now() - timedelta(days=[2, 0, 1][i]))
        ascending = [u[field] for u in listing(api_client, auth, ordering=field)["items"]]
        descending = [u[field] for u in listing(api_client, auth, ordering=f"-{field}")["items"]]
        assert ascending == sorted(ascending)
        assert descending == sorted(ascending, reverse=True)

    def test_is_active_and_deleted_filters(self, api_client, auth):
        active = UserFactory()
        blocked = UserFactory(is_active=False)
        gone = UserFactory()
        gone.soft_delete()

        def ids(**params):
            return {u["id"] for u in listing(api_client, auth, **params)["items"]}

        assert ids() == {active.pk, blocked.pk}
        assert ids(is_active="true") == {active.pk}
        assert ids(is_active="false") == {blocked.pk}
        assert ids(deleted="include") == {active.pk, blocked.pk, gone.pk}
        assert ids(deleted="only") == {gone.pk}

    def test_user_token_is_401(self, api_client, user_token):
        assert_error(api_client.get("/admin/users", **bearer(user_token)), 401, "INVALID_TOKEN")

    def test_no_token_is_401(self, api_client, db):
        assert_error(api_client.get("/admin/users"), 401, "NOT_AUTHENTICATED")

    def test_query_count_does_not_grow_with_page_size(self, api_client, auth, django_assert_num_queries):
        UserFactory.create_batch(30)
        with django_assert_num_queries(3):  # authentication, count, page
            listing(api_client, auth, page_size=5)
        with django_assert_num_queries(3):
            listing(api_client, auth, page_size=30)


class TestDetail:
    def test_get_includes_soft_deleted(self, api_client, auth):
        user = UserFactory()
        user.soft_delete()
        data = assert_ok(api_client.get(f"/admin/users/{user.pk}", **auth))
        assert set(data) == MANAGED_KEYS
        assert data["deleted_at"] is not None

    def test_unknown_id_is_404(self, api_client, auth):
        assert_error(api_client.get("/admin/users/999999", **auth), 404, "NOT_FOUND")

    def test_update_fields(self, api_client, auth):
        user = UserFactory()
        data = assert_ok(
            api_client.patch(
                f"/admin/users/{user.pk}",
                {"name": "Renamed", "email": "NEW@x.example", "phone": "+15550009999"},
                format="json",
                **auth,
            )
        )
        assert (data["name"], data["email"], data["phone"]) == ("Renamed", "new@x.example", "+15550009999")

    def test_update_conflict_is_409(self, api_client, auth):
        UserFactory(username="taken")
        user = UserFactory()
        details = assert_error(
            api_client.put(f"/admin/users/{user.pk}", {"username": "TAKEN"}, format="json", **auth), 409, "CONFLICT"
        )
        assert set(details) == {"username"}

    def test_setting_a_password_revokes_the_users_sessions(self, api_client, auth, login):
        user = UserFactory()
        pair = login(user)
        assert_ok(
            api_client.patch(f"/admin/users/{user.pk}", {"password": "brand-new-passphrase"}, format="json", **auth)
        )
        assert_error(api_client.get("/users/me", **bearer(pair["access_token"])), 401, "INVALID_TOKEN")
        assert_ok(api_client.post("/auth/login", {"username": user.username, "password": "brand-new-passphrase"}))

    def test_weak_password_is_400(self, api_client, auth):
        user = UserFactory()
        details = assert_error(
            api_client.patch(f"/admin/users/{user.pk}", {"password": "123"}, format="json", **auth),
            400,
            "VALIDATION_ERROR",
        )
        assert "password" in details

    def test_is_active_false_blocks(self, api_client, auth, login):
        user = UserFactory()
        pair = login(user)
        data = assert_ok(api_client.put(f"/admin/users/{user.pk}", {"is_active": False}, format="json", **auth))
        assert data["is_active"] is False
        assert_error(api_client.get("/users/me", **bearer(pair["access_token"])), 401, "INVALID_TOKEN")

    def test_delete_and_restore_round_trip(self, api_client, auth, login):
        user = UserFactory()
        pair = login(user)
        assert assert_ok(api_client.delete(f"/admin/users/{user.pk}", **auth)) is None
        assert_error(api_client.get("/users/me", **bearer(pair["access_token"])), 401, "INVALID_TOKEN")
        assert_error(
            api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}),
            401,
            "INVALID_CREDENTIALS",
        )
        assert user.pk not in {u["id"] for u in listing(api_client, auth)["items"]}
        data = assert_ok(api_client.patch(f"/admin/users/{user.pk}/restore", **auth))
        assert data["deleted_at"] is None
        assert_ok(api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}))
        # The old session stays dead after a restore.
        assert_error(api_client.get("/users/me", **bearer(pair["access_token"])), 401, "INVALID_TOKEN")


class TestActions:
    def test_block_kills_access_token_and_pat_at_once_then_login_is_403(self, api_client, auth, login):
        user = UserFactory()
        pair = login(user)
        pat = PersonalAccessTokenFactory(owner=user)
        data = assert_ok(api_client.patch(f"/admin/users/{user.pk}/block", **auth))
        assert data["is_active"] is False
        assert_error(api_client.get("/users/me", **bearer(pair["access_token"])), 401, "INVALID_TOKEN")
        assert_error(api_client.get("/users/me", **bearer(pat.secret)), 401, "INVALID_TOKEN")
        assert_error(
            api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}), 403, "ACCOUNT_INACTIVE"
        )

    def test_activate_restores_login(self, api_client, auth):
        user = UserFactory(is_active=False)
        assert assert_ok(api_client.patch(f"/admin/users/{user.pk}/activate", **auth))["is_active"] is True
        assert_ok(api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}))

    def test_unlock_clears_a_lockout(self, api_client, auth):
        user = UserFactory()
        for i in range(5):
            api_client.post("/auth/login", {"username": user.username, "password": "wrong"}, REMOTE_ADDR=f"10.7.0.{i}")
        locked = assert_ok(api_client.get(f"/admin/users/{user.pk}", **auth))
        assert locked["is_locked"] is True and locked["failed_login_attempts"] == 5 and locked["locked_until"]
        data = assert_ok(api_client.patch(f"/admin/users/{user.pk}/unlock", **auth))
        assert (data["is_locked"], data["failed_login_attempts"], data["locked_until"]) == (False, 0, None)
        assert_ok(
            api_client.post("/auth/login", {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="10.7.1.1")
        )

    @pytest.mark.parametrize("action", ["activate", "block", "unlock", "restore"])
    def test_actions_on_unknown_user_are_404(self, api_client, auth, action):
        assert_error(api_client.patch(f"/admin/users/424242/{action}", **auth), 404, "NOT_FOUND")

    def test_actions_need_patch(self, api_client, auth):
        user = UserFactory()
        assert_error(api_client.post(f"/admin/users/{user.pk}/block", **auth), 405, "METHOD_NOT_ALLOWED")

    def test_user_token_cannot_act(self, api_client, user_token):
        other = UserFactory()
        assert_error(api_client.patch(f"/admin/users/{other.pk}/block", **bearer(user_token)), 401, "INVALID_TOKEN")
        other.refresh_from_db()
        assert other.is_active


@pytest.mark.parametrize(
    "path",
    ["/admin/me", "/admin/me/tokens", "/admin/users", "/admin/users/{id}", "/users/me", "/users/me/tokens", "/health"],
)
def test_every_get_endpoint_renders_in_the_browsable_api(api_client, admin_token, login, path):
    user = UserFactory()
    token = login(user)["access_token"] if path.startswith("/users") else admin_token
    response = api_client.get(path.format(id=user.pk), HTTP_ACCEPT="text/html", **bearer(token))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"&quot;success&quot;: true" in response.content
    json_response = api_client.get(path.format(id=user.pk), **bearer(token))
    assert json_response["Content-Type"] == "application/json"
    assert_ok(json_response)


class TestCursor:
    @pytest.mark.parametrize("ordering", ["id", "-id", "username", "-email", "created_at", "-created_at"])
    def test_following_next_cursor_walks_the_whole_list_in_order(self, api_client, admin_token, ordering):
        from datetime import timedelta

        from django.utils import timezone

        users = [UserFactory(username=f"walker{i % 4}{i}") for i in range(9)]
        User.objects.filter(pk__in=[u.pk for u in users[:4]]).update(created_at=timezone.now() - timedelta(days=1))
        expected = [
            u["id"] for u in assert_ok(
                api_client.get("/admin/users", {"ordering": ordering, "page_size": 100}, **bearer(admin_token))
            )["items"]
        ]  # fmt: skip
        seen, cursor = [], {"cursor": ""}  # an empty cursor starts the walk
        while cursor is not None:
            page = assert_ok(
                api_client.get(
                    "/admin/users", {"ordering": ordering, "page_size": 2, **cursor}, **bearer(admin_token)
                )
            )  # fmt: skip
            assert page["page"] is None and page["page_size"] == 2 and page["total"] == 9
            seen += [u["id"] for u in page["items"]]
            cursor = {"cursor": page["next_cursor"]} if page["next_cursor"] else None
        assert seen == expected

    @pytest.mark.parametrize("cursor", ["!!!", "e30", "W10", "eyJpZCI6ICJ4In0", "eyJpZCI6IDEsICJ2IjogW119"])
    def test_a_bad_cursor_is_400(self, api_client, admin_token, cursor):
        response = api_client.get("/admin/users", {"cursor": cursor, "ordering": "username"}, **bearer(admin_token))
        assert "cursor" in assert_error(response, 400, "VALIDATION_ERROR")


class TestSearchPages:
    """A search counts and pages in one pass on PostgreSQL: the pages must be those of the plain path."""

    @pytest.mark.parametrize("ordering", ["id", "-id", "username", "-username", "email", "-created_at"])
    def test_pages_follow_the_ordering(self, api_client, auth, ordering):
        for name in ["kilo", "alpha", "mike", "bravo", "zulu", "echo", "lima"]:
            UserFactory(username=f"find{name}", email=f"{name}@found.example")
        UserFactory.create_batch(3)
        expected = list(User.objects.listing(search="FIND", ordering=ordering).values_list("username", flat=True))
        pages = [listing(api_client, auth, search="FIND", ordering=ordering, page_size=3, page=n) for n in (1, 2, 3, 4)]
        assert [u["username"] for page in pages for u in page["items"]] == expected
        assert len(expected) == 7
        assert [(p["total"], p["pages"], len(p["items"])) for p in pages] == [
            (7, 3, 3),
            (7, 3, 3),
            (7, 3, 1),
            (7, 3, 0),
        ]

    def test_a_search_matching_more_than_the_exact_count_still_pages(self, api_client, auth, monkeypatch):
        monkeypatch.setattr(pagination, "COUNT_EXACT_UP_TO", 3)
        for name in ["kilo", "alpha", "mike", "bravo", "zulu", "echo", "lima"]:
            UserFactory(username=f"find{name}")
        expected = list(User.objects.listing(search="FIND", ordering="username").values_list("username", flat=True))
        page = listing(api_client, auth, search="FIND", ordering="username", page_size=3, page=2)
        assert [u["username"] for u in page["items"]] == expected[3:6]
        assert page["total"] >= 4 if connection.vendor == "postgresql" else page["total"] == 7

    def test_a_huge_page_of_a_search_is_past_the_end(self, api_client, auth):
        UserFactory(username="findme")
        page = listing(api_client, auth, search="findme", page=10**15, page_size=100)
        assert (page["items"], page["total"], page["pages"]) == ([], 1, 1)

    def test_query_count(self, api_client, auth, django_assert_num_queries, monkeypatch):
        monkeypatch.setattr(search, "SAMPLE_TTL", 10**9)  # no new period between the calls
        UserFactory.create_batch(30)
        listing(api_client, auth, search="user")  # the column statistics are read once per period
        with django_assert_num_queries(3):  # authentication, count and page ids (or count), rows (or page)
            listing(api_client, auth, search="user", page_size=5)
        with django_assert_num_queries(3):
            listing(api_client, auth, search="user", page_size=30)


def test_huge_page_numbers_are_past_the_end_and_huge_page_sizes_are_capped(api_client, admin_token, db):
    UserFactory()
    page = assert_ok(api_client.get("/admin/users", {"page": 10**15}, **bearer(admin_token)))
    assert page["items"] == [] and page["page"] == 10**15
    page = assert_ok(api_client.get("/admin/users", {"page_size": 10**15}, **bearer(admin_token)))
    assert page["page_size"] == 100 and len(page["items"]) == 1
