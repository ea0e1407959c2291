"""The last-way-in guard: an account keeps at least one way to sign in (a usable password, a
passkey, a linked identity). Every removal of a way in asks `refuse_last_way_in` first."""

from django.db import transaction

from accounts.models import AbstractAccount
from common.exceptions import Conflict
from common.realms import realm_of
from tokens.models import Identity, Passkey


def ways_in(account: AbstractAccount) -> int:
    """How many ways the account has to sign in: a usable password, each passkey, each identity."""
    mine = {realm_of(account).name: account}
    password = 1 if account.has_usable_password() else 0
    return password + Passkey.objects.filter(**mine).count() + Identity.objects.filter(**mine).count()


def refuse_last_way_in(account: AbstractAccount, field: str) -> None:
    """409 CONFLICT (`details[field]`) if the account has only one way in left. Call it inside the
    transaction that removes the way in: the account's row stays locked until it commits, so two
    removals at once (a passkey and an identity) are judged one after the other, and one fails."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("refuse_last_way_in must run in the transaction that removes the way in")
    locked = type(account).objects.select_for_update().filter(pk=account.pk)
    account.password = locked.values_list("password", flat=True).first() or account.password
    if ways_in(account) <= 1:
        raise Conflict("This is the last way to sign in to the account", details={field: ["Last way in."]})
