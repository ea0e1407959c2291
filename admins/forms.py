"""Forms of the Django admin site: login through the API's credential service, account forms
validated by the API's serializers (one set of field rules)."""

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm, AdminPasswordChangeForm
from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm
from django.core.files.uploadedfile import UploadedFile

from accounts import lockout
from accounts.serializers import ProfileFieldsSerializer
from common.exceptions import AccountLocked, DomainError, ValidationFailed
from common.images import process_avatar
from common.realms import ADMIN
from tokens.browser.forms import RealmLoginMixin


class AdminLoginForm(RealmLoginMixin, AdminAuthenticationForm):
    """The admin site's login: the API login's checks (tokens.browser.forms), then Django's staff check."""

    realm = ADMIN
    code = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=64,
        help_text="Only if multi-factor authentication is on: a code from your app, or a recovery code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def allowed(self, account) -> None:
        self.confirm_login_allowed(account)

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username and password:
            code = self.cleaned_data.get("code", "")
            self.user_cache = self.sign_in(username, password, code, invalid=self.get_invalid_login_error())
        return self.cleaned_data


class SitePasswordChangeForm(AdminPasswordChangeForm):
    """The admin site's own password change: the old password is checked as the API checks a
    `current_password` (a wrong one counts toward lockout; while locked, no guess is checked)."""

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        try:
            account = ADMIN.model.objects.get(pk=self.user.pk)  # request.user is a lazy proxy
            lockout.check_current_password(account, old_password)
        except AccountLocked as exc:
            raise forms.ValidationError(
                "This account is locked after too many failed attempts. Try again later.", code="locked"
            ) from exc
        except ValidationFailed as exc:
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect") from exc
        return old_password


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
