"""The account model: database-enforced uniqueness, soft delete, atomic failure counting."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.realms import ADMIN, USER
from common.tests.factories import AdminFactory, UserFactory
from common.tests.utils import run_concurrently
from tokens.models import PersonalAccessToken


@pytest.mark.parametrize("model_factory", [UserFactory, AdminFactory])
class TestUniqueness:
    def test_username_is_unique_case_insensitively_in_the_database(self, db, model_factory):
        model_factory(username="Alice")
        with pytest.raises(IntegrityError), transaction.atomic():
            model_factory(username="aLICE")

    def test_email_is_unique_case_insensitively_in_the_database(self, db, model_factory):
        model_factory(email="bob@example.com")
        with pytest.raises(IntegrityError), transaction.atomic():
            model_factory.create(email="BOB@example.com")

    def test_phone_is_unique_when_set_and_many_may_be_null(self, db, model_factory):
        model_factory(phone=None)
        model_factory(phone=None)
        model_factory(phone="+15551234567")
        with pytest.raises(IntegrityError), transaction.atomic():
            model_factory(phone="+15551234567")


def test_users_and_admins_are_separate_tables(db):
    UserFactory(username="same", email="same@example.com")
    AdminFactory(username="same", email="same@example.com")
    assert USER.model.objects.count() == ADMIN.model.objects.count() == 1


def test_lookups_are_case_insensitive(db):
    user = UserFactory(username="Carol", email="carol@example.com", phone="+15550001111")
    assert USER.model.objects.by_username("CAROL").get() == user
    assert USER.model.objects.by_email("Carol@Example.COM").get() == user
    assert USER.model.objects.by_login("carol@EXAMPLE.com").get() == user
    assert USER.model.objects.by_login("carol").get() == user
    assert USER.model.objects.by_phone("+15550001111").get() == user


def test_soft_delete_and_restore(db):
    user = UserFactory()
    user.soft_delete()
    assert user.is_deleted
    assert not USER.model.objects.alive().filter(pk=user.pk).exists()
    assert USER.model.objects.deleted().filter(pk=user.pk).exists()
    user.restore()
    user.refresh_from_db()
    assert not user.is_deleted and user.deleted_at is None
    assert USER.model.objects.alive().filter(pk=user.pk).exists()


def test_record_failed_login_locks_at_the_limit_without_extending(db):
    user = UserFactory()
    for _ in range(4):
        USER.model.objects.record_failed_login(user.pk, max_attempts=5, lock_for=timedelta(minutes=30))
    user.refresh_from_db()
    assert user.failed_login_attempts == 4 and user.locked_until is None
    USER.model.objects.record_failed_login(user.pk, max_attempts=5, lock_for=timedelta(minutes=30))
    user.refresh_from_db()
    first_lock = user.locked_until
    assert user.is_locked and user.failed_login_attempts == 5
    USER.model.objects.record_failed_login(user.pk, max_attempts=5, lock_for=timedelta(minutes=30))
    user.refresh_from_db()
    assert user.locked_until == first_lock


def test_clear_expired_lock_only_touches_expired_locks(db):
    active = UserFactory(failed_login_attempts=5, locked_until=timezone.now() + timedelta(minutes=5))
    expired = UserFactory(failed_login_attempts=5, locked_until=timezone.now() - timedelta(minutes=5))
    assert USER.model.objects.clear_expired_lock(active.pk) == 0
    assert USER.model.objects.clear_expired_lock(expired.pk) == 1
    expired.refresh_from_db()
    assert expired.failed_login_attempts == 0 and expired.locked_until is None


def test_token_needs_exactly_one_owner(db):
    user, admin = UserFactory(), AdminFactory()
    for owners in ({}, {"user": user, "admin": admin}):
        with pytest.raises(IntegrityError), transaction.atomic():
            PersonalAccessToken.objects.create(name="x", digest=f"d{len(owners)}", **owners)


@pytest.mark.django_db(transaction=True)
def test_failed_attempt_increment_is_exact_under_concurrency(postgres_only):
    user = UserFactory()

    def hammer(_: int) -> None:
        for _ in range(20):
            USER.model.objects.record_failed_login(user.pk, max_attempts=10_000, lock_for=timedelta(minutes=1))

    run_concurrently(hammer, 10)
    user.refresh_from_db()
    assert user.failed_login_attempts == 200


@pytest.mark.parametrize(
    ("field", "first", "second"),
    [("username", "Al", "al"), ("email", "a@x.io", "A@x.io"), ("phone", "+1234567", "+1234567")],
)
def test_a_real_constraint_violation_names_its_field(db, field, first, second):
    from common.exceptions import unique_conflict

    UserFactory(**{"email": "first@example.com", field: first})
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        UserFactory(**{"email": "second@example.com", field: second})
    assert unique_conflict(info.value).details == {field: [f"This {field} is already taken."]}
