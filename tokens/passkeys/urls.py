"""The passkey routes of one realm (mounted by tokens.urls)."""

from django.urls import URLPattern

from common.urls import api_path, id_param
from tokens.passkeys import apis


def build_urlpatterns(*, auth_prefix: str, me_prefix: str, name: str, auth: dict, public: dict) -> list[URLPattern]:
    """This account's passkeys and passkey login. `auth`/`public`: the views' keyword arguments (tokens.urls)."""
    return [
        api_path(
            f"{me_prefix}/passkeys/options", apis.PasskeyOptionsApi.as_view(**auth), name=f"{name}-passkey-options"
        ),
        api_path(f"{me_prefix}/passkeys", apis.PasskeyListApi.as_view(**auth), name=f"{name}-passkeys"),
        api_path(
            f"{me_prefix}/passkeys/{id_param('passkey_id')}",
            apis.PasskeyDetailApi.as_view(**auth),
            name=f"{name}-passkey",
        ),
        api_path(
            f"{auth_prefix}/passkey/options",
            apis.PasskeyLoginOptionsApi.as_view(**public),
            name=f"{name}-passkey-login-options",
        ),
        api_path(f"{auth_prefix}/passkey/login", apis.PasskeyLoginApi.as_view(**public), name=f"{name}-passkey-login"),
    ]
