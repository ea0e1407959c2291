from common.realms import USER
from tokens.authentication import RealmAuthentication


class UserAuthentication(RealmAuthentication):
    """Bearer tokens of the user realm."""

    realm = USER
