"""The browsable API's login form for the user realm: the same checks as POST /auth/login."""

from django import forms
from django.http import HttpRequest

from common.exceptions import AccountInactive, AccountLocked, EmailNotVerified, InvalidCredentials, RateLimited
from common.models import AbstractAccount
from common.realms import Realm
from tokens import services


class BrowserLoginForm(forms.Form):
    username = forms.CharField(label="Username or email", max_length=254)
    password = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput, max_length=1024)
    code = forms.CharField(label="Authentication code (only if MFA is on)", required=False, max_length=64, strip=True)

    def __init__(self, *args, request: HttpRequest, realm: Realm, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.request, self.realm = request, realm
        self.account: AbstractAccount | None = None
        self.rate_limited: RateLimited | None = None

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            services.spend_login_attempt(self.request, self.realm)
            account = services.verify_credentials(
                realm=self.realm, identifier=data["username"], password=data["password"]
            )
            if account.mfa_enabled:
                if not data.get("code"):
                    raise forms.ValidationError("Enter the code from your authenticator app (or a recovery code).")
                services.check_second_factor(account, data["code"])
        except RateLimited as exc:
            self.rate_limited = exc
            raise forms.ValidationError("Too many login attempts from your address. Try again later.") from exc
        except AccountLocked as exc:
            minutes = max(1, round((exc.retry_after or 60) / 60))
            raise forms.ValidationError(f"This account is locked. Try again in about {minutes} minute(s).") from exc
        except AccountInactive as exc:
            raise forms.ValidationError("This account is inactive.") from exc
        except EmailNotVerified as exc:
            raise forms.ValidationError("Verify your email address first (see the mail we sent).") from exc
        except InvalidCredentials as exc:
            raise forms.ValidationError(exc.message if "code" in exc.message else "Invalid credentials.") from exc
        services.record_login(account, method="mfa" if account.mfa_enabled else "password")
        self.account = account
        return data
