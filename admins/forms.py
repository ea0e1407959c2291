"""Forms of the Django admin site: login through the API's credential service, account forms
validated by the API's serializers (one set of field rules)."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.core.files.uploadedfile import UploadedFile

from accounts.serializers import ProfileFieldsSerializer
from common.exceptions import (
    AccountInactive,
    AccountLocked,
    DomainError,
    EmailNotVerified,
    InvalidCredentials,
    RateLimited,
)
from common.images import process_avatar
from common.realms import ADMIN
from tokens.services import check_second_factor, record_login, spend_login_attempt, verify_credentials


def _minutes(error: DomainError) -> int:
    return max(1, round((error.retry_after or 60) / 60))


class AdminLoginForm(AdminAuthenticationForm):
    """The admin site's login: the admin realm's per-IP budget, the API's lockout rules, the second
    factor for admins with MFA on (ADMIN_MFA_REQUIRED refuses admins without it), then the staff check."""

    code = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=64,
        help_text="Only if multi-factor authentication is on: a code from your app, or a recovery code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return self.cleaned_data
        try:
            spend_login_attempt(self.request, ADMIN)
            account = verify_credentials(realm=ADMIN, identifier=username, password=password)
            self._second_factor(account)
            self.user_cache = account
        except RateLimited as exc:
            self.rate_limited = exc
            raise forms.ValidationError(
                f"Too many login attempts from your address. Try again in about {_minutes(exc)} minute(s).",
                code="rate_limited",
            ) from exc
        except AccountLocked as exc:
            raise forms.ValidationError(
                f"This account is locked after too many failed login attempts. "
                f"Try again in about {_minutes(exc)} minute(s).",
                code="locked",
            ) from exc
        except EmailNotVerified as exc:
            raise forms.ValidationError("Verify your email address first (see the mail we sent).") from exc
        except AccountInactive as exc:
            raise forms.ValidationError(self.error_messages["inactive"], code="inactive") from exc
        except InvalidCredentials as exc:
            raise self.get_invalid_login_error() from exc
        self.confirm_login_allowed(self.user_cache)
        record_login(self.user_cache)
        return self.cleaned_data

    def _second_factor(self, account) -> None:
        if not account.mfa_enabled:
            if settings.ADMIN_MFA_REQUIRED:
                raise forms.ValidationError(
                    "Multi-factor authentication is required for admins. Turn it on first through the API "
                    "(POST /admin/me/mfa/totp, then /admin/me/mfa/totp/confirm), then log in here with a code.",
                    code="mfa_required",
                )
            return
        code = self.cleaned_data.get("code", "")
        if not code:
            raise forms.ValidationError("Enter the code from your authenticator app (or a recovery code).", code="mfa")
        try:
            check_second_factor(account, code)
        except InvalidCredentials as exc:
            raise forms.ValidationError("This authentication code is not valid.", code="mfa_invalid") from exc


class AccountFormMixin(forms.ModelForm):
    """Profile fields checked by the API's serializer; avatars through the API's image pipeline."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        values = {f: cleaned.get(f) for f in ProfileFieldsSerializer().fields if f in self.fields}
        serializer = ProfileFieldsSerializer(data=values, partial=True)
        if not serializer.is_valid():
            for field, messages in serializer.errors.items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, str(message))
            return cleaned
        cleaned.update(serializer.validated_data)
        return cleaned

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if isinstance(avatar, UploadedFile):
            try:
                return process_avatar(avatar)
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return avatar


class AccountCreationForm(AccountFormMixin, BaseUserCreationForm):
    """Create an account with a validated password (bound to a model by account_forms)."""


class AccountChangeForm(AccountFormMixin, UserChangeForm):
    """Change an account; the password only through Django's password form (bound by account_forms)."""


def account_forms(account_model: type) -> tuple[type[AccountChangeForm], type[AccountCreationForm]]:
    """The change and creation forms bound to one realm's model."""

    class ChangeForm(AccountChangeForm):
        class Meta(UserChangeForm.Meta):
            model = account_model
            fields = ("username", "password", "name", "email", "phone", "avatar", "is_active")

    class CreationForm(AccountCreationForm):
        class Meta(BaseUserCreationForm.Meta):
            model = account_model
            fields = ("username", "name", "email", "phone")

    return ChangeForm, CreationForm
