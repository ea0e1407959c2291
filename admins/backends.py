from django.contrib.auth.backends import ModelBackend

from common.exceptions import DomainError
from common.realms import ADMIN
from tokens.services import verify_credentials


class AdminSiteBackend(ModelBackend):
    """Admin accounts for the Django admin site, under the same lockout rules as the API login."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        try:
            return verify_credentials(realm=ADMIN, identifier=username, password=password)
        except DomainError:
            return None

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not getattr(user, "is_deleted", False)
