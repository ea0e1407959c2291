"""HTML login forms (the browsable API's and the Django admin site's): the checks of POST .../auth/login."""

from django import forms
from django.conf import settings
from django.http import HttpRequest

from accounts.models import AbstractAccount
from common import ratelimit
from common.exceptions import (
    AccountInactive,
    AccountLocked,
    DomainError,
    EmailNotVerified,
    InvalidCredentials,
    RateLimited,
)
from common.realms import ADMIN, Realm
from tokens import login


def _minutes(error: DomainError) -> int:
    return max(1, round((error.retry_after or 60) / 60))


class RealmLoginMixin:
    """Signs in like POST .../auth/login: the realm's per-IP budget, lockout, password, active,
    verified email, then the second factor (required for admins under ADMIN_MFA_REQUIRED).
    Refusals become form errors; a spent budget is left on `rate_limited` for a 429."""

    realm: Realm
    request: HttpRequest
    rate_limited: RateLimited | None = None

    def allowed(self, account: AbstractAccount) -> None:
        """A last check of the form's own (the admin site's staff check)."""

    def sign_in(self, username: str, password: str, code: str, *, invalid: forms.ValidationError) -> AbstractAccount:
        try:
            ratelimit.consume(self.request, "login", self.realm)
            account = login.verify_credentials(realm=self.realm, identifier=username, password=password)
            self._second_factor(account, code)
        except InvalidCredentials as exc:
            raise invalid from exc
        except RateLimited as exc:
            self.rate_limited = exc
            raise forms.ValidationError(
                f"Too many login attempts from your address. Try again in about {_minutes(exc)} minute(s).",
                code="rate_limited",
            ) from exc
        except AccountLocked as exc:
            raise forms.ValidationError(
                "This account is locked after too many failed login attempts. "
                f"Try again in about {_minutes(exc)} minute(s).",
                code="locked",
            ) from exc
        except AccountInactive as exc:
            raise forms.ValidationError("This account is inactive.", code="inactive") from exc
        except EmailNotVerified as exc:
            raise forms.ValidationError("Verify your email address first (see the mail we sent).") from exc
        self.allowed(account)
        login.record_login(account, method="mfa" if account.mfa_enabled else "password")
        return account

    def _second_factor(self, account: AbstractAccount, code: str) -> None:
        if not account.mfa_enabled:
            if self.realm is ADMIN and settings.ADMIN_MFA_REQUIRED:
                raise forms.ValidationError(
                    "Multi-factor authentication is required for admins. Turn it on first through the API "
                    "(POST /admin/me/mfa/totp, then /admin/me/mfa/totp/confirm), then log in here with a code.",
                    code="mfa_required",
                )
            return
        if not code:
            raise forms.ValidationError("Enter the code from your authenticator app (or a recovery code).", code="mfa")
        try:
            login.check_second_factor(account, code)
        except InvalidCredentials as exc:
            raise forms.ValidationError("This authentication code is not valid.", code="mfa_invalid") from exc


class BrowserLoginForm(RealmLoginMixin, forms.Form):
    """/api-auth/login/: a browser session of the user realm."""

    username = forms.CharField(label="Username or email", max_length=254)
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput, max_length=1024)
    code = forms.CharField(label="Authentication code (only if MFA is on)", required=False, max_length=64, strip=True)

    def __init__(self, *args, request: HttpRequest, realm: Realm, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request, self.realm = request, realm
        self.account: AbstractAccount | None = None

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors:
            invalid = forms.ValidationError("Invalid credentials.", code="invalid_login")
            self.account = self.sign_in(data["username"], data["password"], data.get("code", ""), invalid=invalid)
        return data
