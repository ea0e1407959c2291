"""The credential endpoints, mounted once per realm."""

from django.urls import URLPattern
from rest_framework.authentication import BaseAuthentication

from common.realms import Realm
from common.urls import api_path, id_param
from tokens import apis


def credential_urlpatterns(
    *, realm: Realm, authentication: list[type[BaseAuthentication]], auth_prefix: str, me_prefix: str
) -> list[URLPattern]:
    auth = {"realm": realm, "authentication_classes": authentication}
    public = {"realm": realm}
    return [
        api_path(f"{auth_prefix}/login", apis.LoginApi.as_view(**public)),
        api_path(f"{auth_prefix}/refresh", apis.RefreshApi.as_view(**public)),
        api_path(f"{auth_prefix}/password/forgot", apis.ForgotPasswordApi.as_view(**public)),
        api_path(f"{auth_prefix}/password/reset", apis.ResetPasswordApi.as_view(**public)),
        api_path(f"{auth_prefix}/mfa/verify", apis.MfaVerifyApi.as_view(**public)),
        api_path(f"{auth_prefix}/logout", apis.LogoutApi.as_view(**auth)),
        api_path(f"{auth_prefix}/logout-all", apis.LogoutAllApi.as_view(**auth)),
        api_path(f"{me_prefix}/password", apis.PasswordApi.as_view(**auth)),
        api_path(f"{me_prefix}/tokens", apis.TokenListApi.as_view(**auth)),
        api_path(f"{me_prefix}/tokens/{id_param('token_id')}", apis.TokenDetailApi.as_view(**auth)),
        api_path(f"{me_prefix}/mfa", apis.MfaStatusApi.as_view(**auth)),
        api_path(f"{me_prefix}/mfa/totp", apis.MfaTotpApi.as_view(**auth)),
        api_path(f"{me_prefix}/mfa/totp/confirm", apis.MfaConfirmApi.as_view(**auth)),
        api_path(f"{me_prefix}/mfa/recovery-codes", apis.RecoveryCodesApi.as_view(**auth)),
        api_path(f"{me_prefix}/sessions", apis.SessionListApi.as_view(**auth)),
        api_path(f"{me_prefix}/sessions/{id_param('session_id')}", apis.SessionDetailApi.as_view(**auth)),
    ]
