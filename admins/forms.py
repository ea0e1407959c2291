"""Forms of the Django admin site: login with lockout, account creation and change."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.core.files.uploadedfile import UploadedFile

from common.exceptions import AccountInactive, AccountLocked, DomainError, InvalidCredentials
from common.images import process_avatar
from common.realms import ADMIN
from common.serializers import phone_validator, username_validator
from tokens.services import verify_credentials


class AdminLoginForm(AdminAuthenticationForm):
    """The admin site's login: the API's lockout rules and messages, then Django's staff check."""

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return self.cleaned_data
        try:
            self.user_cache = verify_credentials(realm=ADMIN, identifier=username, password=password)
        except AccountLocked as exc:
            minutes = max(1, round((exc.retry_after or 60) / 60))
            raise forms.ValidationError(
                f"This account is locked after too many failed login attempts. Try again in about {minutes} minute(s).",
                code="locked",
            ) from exc
        except AccountInactive as exc:
            raise forms.ValidationError(self.error_messages["inactive"], code="inactive") from exc
        except InvalidCredentials as exc:
            raise self.get_invalid_login_error() from exc
        self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class AccountFormMixin(forms.ModelForm):
    """Field rules of the API for forms: username charset, lower-cased email, phone format, clean avatars."""

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        username_validator(username)
        if len(username) < 3:
            raise forms.ValidationError("Username must be at least 3 characters.")
        return username

    def clean_email(self) -> str:
        return self.cleaned_data["email"].lower()

    def clean_phone(self) -> str | None:
        phone = self.cleaned_data.get("phone") or None
        if phone:
            phone_validator(phone)
        return phone

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if isinstance(avatar, UploadedFile):
            try:
                return process_avatar(avatar)
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from exc
        return avatar


class AccountCreationForm(AccountFormMixin, BaseUserCreationForm):
    """Create an account with a validated, hashed password (bound to a model by account_forms)."""


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
