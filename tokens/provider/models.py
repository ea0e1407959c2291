"""django-oauth-toolkit's token models, swapped (OAUTH2_PROVIDER_*_MODEL) so that their owner is a
person of the user realm (accounts.User) rather than AUTH_USER_MODEL, which is the admin realm.
Clients stay django-oauth-toolkit's own Application (so their permissions are
`oauth2_provider.*_application`), with the grant types a client may use kept beside it."""

from django.conf import settings
from django.db import models
from oauth2_provider import models as dot

OWNER = {"to": "accounts.User", "on_delete": models.CASCADE, "related_name": "%(app_label)s_%(class)s"}


class SignInProof(models.Model):
    """When and how the person proved who they are (an ID token's `auth_time` and `amr`), carried
    from the sign-in that approved a grant to every token issued from it."""

    auth_time = models.DateTimeField(null=True, blank=True)
    amr = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True


class ProviderGrant(dot.AbstractGrant, SignInProof):
    """An authorization code; kept after its one exchange (redeemed_at) so that a replay is known."""

    user = models.ForeignKey(**OWNER)
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta(dot.AbstractGrant.Meta):
        verbose_name = "authorization code"

    def __str__(self) -> str:
        return f"Authorization code #{self.pk}"


class ProviderAccessToken(dot.AbstractAccessToken):
    user = models.ForeignKey(**OWNER, null=True, blank=True)

    class Meta(dot.AbstractAccessToken.Meta):
        verbose_name = "provider access token"


class ProviderRefreshToken(dot.AbstractRefreshToken, SignInProof):
    user = models.ForeignKey(**OWNER)

    class Meta(dot.AbstractRefreshToken.Meta):
        verbose_name = "provider refresh token"

    def __str__(self) -> str:
        return f"Refresh token #{self.pk}"  # never the token itself


class ProviderIDToken(dot.AbstractIDToken):
    user = models.ForeignKey(**OWNER, null=True, blank=True)

    class Meta(dot.AbstractIDToken.Meta):
        verbose_name = "ID token"


class ProviderDeviceGrant(dot.AbstractDeviceGrant, SignInProof):
    user = models.ForeignKey(**OWNER, null=True, blank=True)
    polled_at = models.DateTimeField(null=True, blank=True, help_text="The device's last poll (slow_down).")

    class Meta(dot.AbstractDeviceGrant.Meta):
        verbose_name = "device authorization"

    def __str__(self) -> str:
        return f"Device authorization #{self.pk}"


class ClientPolicy(models.Model):
    """What django-oauth-toolkit's Application cannot say: the several grant types a client may use."""

    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="policy"
    )
    grant_types = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Grant types of client #{self.application_id}"


class ConsentQuerySet(models.QuerySet):
    def of(self, user_id: int) -> "ConsentQuerySet":
        return self.filter(user_id=user_id).select_related("application").order_by("-created_at", "-pk")


class Consent(models.Model):
    """A person's grant to a client: the scopes they approved (asked again only for more)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="provider_consents")
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "application"], name="one_consent_per_client")]

    def __str__(self) -> str:
        return f"Grant #{self.pk}"
