from common.realms import USER
from tokens.authentication import RealmAuthentication, RealmSessionAuthentication


class UserAuthentication(RealmAuthentication):
    """Bearer tokens of the user realm."""

    realm = USER


class UserSessionAuthentication(RealmSessionAuthentication):
    """Browser sessions of the user realm (/api-auth/login/)."""

    realm = USER


AUTHENTICATION = [UserAuthentication, UserSessionAuthentication]
