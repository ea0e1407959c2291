"""The account routes of one realm: registration, the profile and avatar, email verification,
forgotten passwords, security events. config/urls.py mounts them once per realm."""

from django.urls import URLPattern
from rest_framework.authentication import BaseAuthentication

from accounts import apis
from accounts.serializers import AccountSerializer
from common.realms import Realm
from common.urls import api_path


def build_urlpatterns(
    *,
    realm: Realm,
    authentication: list[type[BaseAuthentication]],
    auth_prefix: str,
    me_prefix: str,
    open_registration: bool,
    me_methods: tuple[str, ...],
    account_serializer: type[AccountSerializer] = AccountSerializer,
) -> list[URLPattern]:
    shape = {"account_serializer": account_serializer}
    auth = {"realm": realm, "authentication_classes": authentication}
    public = {"realm": realm}
    register = (apis.OpenRegisterApi.as_view(**public, **shape) if open_registration
                else apis.AdminRegisterApi.as_view(**auth, **shape))  # fmt: skip
    name = realm.name
    return [  # the hottest path first: URLs are resolved in order
        api_path(
            me_prefix,
            apis.MeApi.as_view(**auth, **shape, http_method_names=[*me_methods, "head", "options"]),
            name=f"{name}-me",
        ),
        api_path(f"{auth_prefix}/register", register, name=f"{name}-register"),
        api_path(f"{me_prefix}/avatar", apis.MeAvatarApi.as_view(**auth, **shape), name=f"{name}-avatar"),
        api_path(
            f"{me_prefix}/security-events", apis.SecurityEventsApi.as_view(**auth), name=f"{name}-security-events"
        ),
        api_path(f"{auth_prefix}/email/verify", apis.VerifyEmailApi.as_view(**public), name=f"{name}-email-verify"),
        api_path(
            f"{auth_prefix}/email/verify/resend",
            apis.ResendVerificationApi.as_view(**auth),
            name=f"{name}-email-verify-resend",
        ),
        api_path(
            f"{auth_prefix}/password/forgot", apis.ForgotPasswordApi.as_view(**public), name=f"{name}-password-forgot"
        ),
        api_path(
            f"{auth_prefix}/password/reset", apis.ResetPasswordApi.as_view(**public), name=f"{name}-password-reset"
        ),
    ]
