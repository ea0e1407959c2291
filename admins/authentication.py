from common.realms import ADMIN
from tokens.authentication import RealmAuthentication


class AdminAuthentication(RealmAuthentication):
    """Bearer tokens of the admin realm."""

    realm = ADMIN
