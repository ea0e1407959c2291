"""The last-way-in guard: an account keeps one way to sign in, even when two are removed at once."""

import pytest

from common.exceptions import Conflict
from common.tests.factories import UserFactory
from common.tests.utils import run_concurrently
from tokens.models import Identity, Passkey
from tokens.oidc import identities
from tokens.passkeys import services as passkeys
from tokens.ways_in import ways_in


def _passwordless_with_a_passkey_and_an_identity():
    user = UserFactory()
    user.set_unusable_password()
    user.save(update_fields=["password"])
    passkey = Passkey.objects.create(user=user, credential_id="cred-1", public_key=b"k", name="Laptop")
    identity = Identity.objects.create(user=user, provider="acme", subject="sub-1")
    return user, passkey, identity


@pytest.mark.django_db
def test_ways_in_counts_a_usable_password_each_passkey_and_each_identity():
    user, _, _ = _passwordless_with_a_passkey_and_an_identity()
    assert ways_in(user) == 2
    user.set_password("A-new-passphrase-1")
    user.save(update_fields=["password"])
    assert ways_in(user) == 3


@pytest.mark.django_db
def test_the_last_way_in_is_refused_whichever_kind_it_is():
    user, passkey, identity = _passwordless_with_a_passkey_and_an_identity()
    passkeys.remove(user, passkey.pk)
    with pytest.raises(Conflict) as caught:
        identities.unlink(user, identity.pk)
    assert caught.value.details == {"identity": ["Last way in."]}
    assert Identity.objects.filter(pk=identity.pk).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_a_passkey_and_an_identity_removed_at_once_leave_one(postgres_only, attempt):
    """Without the account's row lock, each removal counts two ways in and both succeed."""
    user, passkey, identity = _passwordless_with_a_passkey_and_an_identity()
    removals = [lambda: passkeys.remove(user, passkey.pk), lambda: identities.unlink(user, identity.pk)]

    def remove(i: int) -> str:
        try:
            removals[i]()
        except Conflict:
            return "refused"
        return "removed"

    assert sorted(run_concurrently(remove, 2)) == ["refused", "removed"]
    assert Passkey.objects.filter(user=user).count() + Identity.objects.filter(user=user).count() == 1
