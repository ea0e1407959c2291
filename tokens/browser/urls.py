"""The browsable API's own login pages (browser sessions of the user realm): password, passkey and
identity providers (mounted by config.urls)."""

from django.urls import URLPattern, re_path

from common.realms import USER
from tokens.browser import views
from tokens.browser.sessions import DEFAULT_NEXT
from tokens.code.pages import CodePages
from tokens.oidc.pages import OidcPages
from tokens.oidc.urls import SLUG

code_page = CodePages(realm=USER, template="tokens/code_login.html", default_next=DEFAULT_NEXT).view()
oidc_start, oidc_complete = OidcPages(
    realm=USER, complete_url="api-oidc-complete", login_url="/api-auth/login/", default_next=DEFAULT_NEXT
).views()


def browser_urlpatterns() -> list[URLPattern]:
    """The browsable API's own login and logout (browser sessions of the user realm)."""
    return [
        re_path(r"^api-auth/login/?$", views.password_login, name="api-login"),
        re_path(r"^api-auth/logout/?$", views.logout, name="api-logout"),
        re_path(r"^api-auth/passkey/?$", views.passkey_login, name="api-passkey-login"),
        re_path(r"^api-auth/code/?$", code_page, name="api-code-login"),
        re_path(r"^api-auth/reauthenticate/?$", views.reauthenticate, name="api-reauthenticate"),
        re_path(rf"^api-auth/oidc/{SLUG}/?$", oidc_start, name="api-oidc-start"),
        re_path(r"^api-auth/oidc/?$", oidc_complete, name="api-oidc-complete"),
    ]
