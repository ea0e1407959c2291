from common.realms import ADMIN
from tokens.authentication import RealmAuthentication, RealmSessionAuthentication


class AdminAuthentication(RealmAuthentication):
    """Bearer tokens of the admin realm."""

    realm = ADMIN


class AdminSessionAuthentication(RealmSessionAuthentication):
    """Browser sessions of the admin realm (started by logging into the Django admin site)."""

    realm = ADMIN


AUTHENTICATION = [AdminAuthentication, AdminSessionAuthentication]
