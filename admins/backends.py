from django.contrib.auth.backends import ModelBackend


class AdminSiteBackend(ModelBackend):
    """Keeps the admin site's session of an Admin only while it may still sign in.

    Passwords are checked by tokens.login.verify_credentials (the login form calls it),
    never by this backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and not getattr(user, "is_deleted", False)
