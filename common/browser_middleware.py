"""Django's session, authentication and messages middleware, skipped by API clients.

(A module of its own: common.middleware is imported by the logging configuration, before
Django's auth app can be.)
"""

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse

from common.middleware import HTML_PAGES


class BrowserOnly:
    """For Django's session, authentication and messages middleware: a request that carries a
    bearer token and no cookie is an API client's, which none of them serves, so it skips them
    (about a tenth of a bearer request's time). Browsers send cookies; DRF's own
    authentication sets `request.user` for API requests either way."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        if (
            not meta.get("HTTP_COOKIE")
            and meta.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
            and not request.path.startswith(HTML_PAGES)  # the admin site and the login pages always have them
        ):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(BrowserOnly, sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(BrowserOnly, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(BrowserOnly, messages.MessageMiddleware):
    pass
