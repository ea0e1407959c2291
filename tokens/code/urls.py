"""The sign-in-by-code routes of one realm (mounted by tokens.urls)."""

from django.urls import URLPattern

from common.urls import api_path
from tokens.code import apis


def build_urlpatterns(*, auth_prefix: str, me_prefix: str, name: str, auth: dict, public: dict) -> list[URLPattern]:
    """Ask for a code, sign in with it. `auth`/`public`: the views' keyword arguments (tokens.urls)."""
    return [
        api_path(f"{auth_prefix}/code/request", apis.CodeRequestApi.as_view(**public), name=f"{name}-code-request"),
        api_path(f"{auth_prefix}/code/verify", apis.CodeVerifyApi.as_view(**public), name=f"{name}-code-verify"),
    ]
