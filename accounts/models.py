from common.models import AbstractAccount


class User(AbstractAccount):
    """An account of the user realm (`/auth/`, `/users/`)."""

    class Meta(AbstractAccount.Meta):
        constraints = AbstractAccount.account_constraints("accounts_user")
