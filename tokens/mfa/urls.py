"""The MFA routes of one realm (mounted by tokens.urls)."""

from django.urls import URLPattern

from common.urls import api_path
from tokens.mfa import apis


def build_urlpatterns(*, auth_prefix: str, me_prefix: str, name: str, auth: dict, public: dict) -> list[URLPattern]:
    """The login's second step, TOTP and recovery codes. `auth`/`public`: the views' keyword arguments (tokens.urls)."""
    return [
        api_path(f"{auth_prefix}/mfa/verify", apis.MfaVerifyApi.as_view(**public), name=f"{name}-mfa-verify"),
        api_path(f"{me_prefix}/mfa", apis.MfaStatusApi.as_view(**auth), name=f"{name}-mfa"),
        api_path(f"{me_prefix}/mfa/totp", apis.MfaTotpApi.as_view(**auth), name=f"{name}-mfa-totp"),
        api_path(f"{me_prefix}/mfa/totp/confirm", apis.MfaConfirmApi.as_view(**auth), name=f"{name}-mfa-totp-confirm"),
        api_path(
            f"{me_prefix}/mfa/recovery-codes", apis.RecoveryCodesApi.as_view(**auth), name=f"{name}-mfa-recovery-codes"
        ),
    ]
