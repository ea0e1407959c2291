"""Login sessions (one per login, holding the current refresh token) and personal access tokens."""

import functools

from django.db import connections, models
from django.db.models import Q
from django.utils import timezone

from accounts.models import AbstractAccount
from common.realms import Realm, realm_of

ABILITIES = ("read", "write")


class OwnedQuerySet(models.QuerySet):
    """The one place that knows the owner column is named after the realm."""

    def live_owner(
        self, realm: Realm, *, account_id: int | None = None, extra: tuple[str, ...] = (), **equals: object
    ) -> tuple | None:
        """Authentication's hot path, one precompiled statement instead of a QuerySet built per request.

        (account, *`extra` columns) of the first live row with these column values (of this
        account, if given) whose owner is an active, not deleted account of the realm; else None.
        """
        connection = connections[self.db]
        columns = tuple(sorted(equals))
        sql, fields, selected = _live_owner_sql(self.model, realm, columns, account_id is not None, extra)
        params = [equals[c] for c in columns] + ([account_id] if account_id is not None else [])
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            return None
        values = [_from_db(field, value, connection) for field, value in zip(selected, row, strict=True)]
        return (realm.model.from_db(self.db, fields, values[: len(fields)]), *values[len(fields) :])

    def of_account(self, account: AbstractAccount) -> "OwnedQuerySet":
        return self.filter(**{f"{realm_of(account).name}_id": account.pk})

    def owned_in(self, realm: Realm, account_id: int | None = None) -> "OwnedQuerySet":
        """Owned by an active, not deleted account of the realm (by this one, if given)."""
        owner = realm.name
        qs = self.filter(**{f"{owner}__is_active": True, f"{owner}__deleted_at__isnull": True})
        return qs.filter(**{f"{owner}_id": account_id}) if account_id is not None else qs

    def live_for(self, realm: Realm, account_id: int | None = None) -> "OwnedQuerySet":
        """Not revoked, not expired, owned by an active, not deleted account of the realm."""
        return self.active().owned_in(realm, account_id)

    def with_owner(self, realm: Realm) -> "OwnedQuerySet":
        return self.select_related(realm.name)

    def active(self) -> "OwnedQuerySet":
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def revoke(self) -> int:
        return self.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())

    def purgeable(self) -> "OwnedQuerySet":
        return self.filter(Q(revoked_at__isnull=False) | Q(expires_at__lte=timezone.now()))


class Owned(models.Model):
    """Belongs to exactly one account of either realm; the field name is the realm name."""

    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    admin = models.ForeignKey("admins.Admin", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(admin__isnull=True))
                | (Q(user__isnull=True) & Q(admin__isnull=False)),
                name="%(app_label)s_%(class)s_exactly_one_owner",
            )
        ]

    @property
    def owner(self) -> AbstractAccount:
        return self.user if self.user_id else self.admin

    def owner_in(self, realm: Realm) -> AbstractAccount:
        return getattr(self, realm.name)


class AccountOwned(Owned):
    """A credential of one account: it may expire and be revoked."""

    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(Owned.Meta):
        abstract = True


def owner_kwargs(account: AbstractAccount) -> dict[str, AbstractAccount]:
    """The owner column of a new row for this account."""
    return {realm_of(account).name: account}


class LoginSession(AccountOwned):
    """One login. Holds the jti of the only refresh token that may still be used.

    Rotation swaps `refresh_jti` with a conditional UPDATE; a refresh token whose jti
    is no longer current was used already, so presenting it revokes the session.
    Access tokens carry the session id and die with it.
    """

    METHODS = ("password", "mfa", "passkey", "oidc", "browser", "code")
    # RFC 8176 authentication method references of each way a session begins.
    AMR = {"password": ["pwd"], "mfa": ["pwd", "otp", "mfa"], "passkey": ["hwk"], "oidc": ["fed"], "code": ["email"]}

    refresh_jti = models.CharField(max_length=64)
    method = models.CharField(max_length=8, default="password", help_text="How the login was proven.")
    auth_time = models.DateTimeField(default=timezone.now, help_text="When the session was last proven.")
    amr = models.JSONField(default=list, blank=True, help_text="How it was proven (RFC 8176).")
    refreshed_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True, default="")

    class Meta(AccountOwned.Meta):
        indexes = [
            models.Index(fields=["expires_at"]),
            models.Index(fields=["revoked_at"]),
            models.Index(fields=["user", "-created_at"], name="session_user_created"),
            models.Index(fields=["admin", "-created_at"], name="session_admin_created"),
        ]

    def __str__(self) -> str:
        return f"session {self.pk} of {self.owner}"

    @property
    def last_seen_at(self):
        return self.refreshed_at or self.created_at


def default_abilities() -> list[str]:
    return list(ABILITIES)


class PersonalAccessToken(AccountOwned):
    """A long-lived bearer secret (`pat_...`), stored only as its SHA-256 digest."""

    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    abilities = models.JSONField(default=default_abilities)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AccountOwned.Meta):
        indexes = [models.Index(fields=["expires_at"]), models.Index(fields=["revoked_at"])]
        verbose_name = "personal access token"

    def __str__(self) -> str:
        return self.name


class Passkey(Owned):
    """A WebAuthn credential (tokens.passkeys): its public key, and the signature counter that
    must keep increasing (a counter that does not is a cloned authenticator)."""

    credential_id = models.CharField(max_length=1400, unique=True, help_text="base64url")
    public_key = models.BinaryField()
    sign_count = models.BigIntegerField(default=0)
    name = models.CharField(max_length=64, default="Passkey")
    backed_up = models.BooleanField(default=False)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(Owned.Meta):
        verbose_name = "passkey"

    def __str__(self) -> str:
        return self.name


class Identity(Owned):
    """An account at an identity provider (tokens.oidc): the provider's slug and its `sub`.

    One `sub` of a provider belongs to at most one account of each realm."""

    provider = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    email = models.CharField(max_length=254, blank=True, default="", help_text="As the provider gave it.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(Owned.Meta):
        verbose_name = "identity"
        verbose_name_plural = "identities"
        constraints = [
            *Owned.Meta.constraints,
            models.UniqueConstraint(
                fields=["provider", "subject"], condition=Q(user__isnull=False), name="identity_one_user"
            ),
            models.UniqueConstraint(
                fields=["provider", "subject"], condition=Q(admin__isnull=False), name="identity_one_admin"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.email or self.subject}"


class TotpDevice(Owned):
    """An account's TOTP authenticator. The secret itself is never stored: it is derived from
    SECRET_KEY and `seed` (tokens.mfa), so a database dump alone yields no working codes."""

    seed = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(default=0)  # a code of this step or earlier is refused (no replay)

    class Meta(Owned.Meta):
        verbose_name = "TOTP device"

    def __str__(self) -> str:
        return f"TOTP device of {self.owner}"


class RecoveryCode(Owned):
    """A single-use MFA recovery code, stored as its SHA-256 digest."""

    digest = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta(Owned.Meta):
        indexes = [models.Index(fields=["digest"])]

    def __str__(self) -> str:
        return f"recovery code of {self.owner}"


class MfaChallenge(Owned):
    """The password step of a login to an account with MFA on; exchanged once for a token pair."""

    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True, default="")

    def __str__(self) -> str:
        return f"MFA challenge {self.pk} of {self.owner}"


@functools.cache
def _live_owner_sql(
    model: type[models.Model], realm: Realm, columns: tuple[str, ...], by_account: bool, extra: tuple[str, ...]
) -> tuple[str, list[str]]:
    """The SQL of OwnedQuerySet.live_owner, built once per shape."""
    owner = realm.model._meta
    owner_column = model._meta.get_field(realm.name).column
    conditions = [f't."{column}" = %s' for column in columns]
    if by_account:
        conditions.append(f't."{owner_column}" = %s')
    extra_fields = [model._meta.get_field(name) for name in extra]
    selected = [*owner.concrete_fields, *extra_fields]
    picked = ", ".join(
        [*(f'a."{f.column}"' for f in owner.concrete_fields), *(f't."{f.column}"' for f in extra_fields)]
    )
    sql = (
        f'SELECT {picked} FROM "{model._meta.db_table}" t '
        f'JOIN "{owner.db_table}" a ON a."{owner.pk.column}" = t."{owner_column}" '
        f"WHERE {' AND '.join(conditions)} AND t.revoked_at IS NULL AND a.is_active AND a.deleted_at IS NULL "
        f"AND (t.expires_at IS NULL OR t.expires_at > %s) LIMIT 1"
    )
    return sql, [f.attname for f in owner.concrete_fields], selected


def _from_db(field: models.Field, value: object, connection) -> object:
    """What the ORM would make of a raw column value (aware datetimes, booleans and JSON on SQLite)."""
    column = field.get_col(field.model._meta.db_table)
    for convert in [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]:
        value = convert(value, column, connection)
    return value


class SigningKeyQuerySet(models.QuerySet):
    def usable(self, algorithm: str) -> "SigningKeyQuerySet":
        """Keys of this algorithm that tokens may still be signed with: published and verifying, newest first."""
        return self.filter(algorithm=algorithm, retired_at__isnull=True).order_by("-created_at", "-id")


class SigningKey(models.Model):
    """A key pair that signs access and refresh tokens when ALGORITHM is asymmetric (tokens.signing_keys).

    The newest usable key signs; earlier ones keep verifying and stay published until retired.
    The private half is stored encrypted with a key derived from SECRET_KEY.
    """

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=8)
    private_key = models.TextField(help_text="PEM, encrypted with a key derived from SECRET_KEY (Fernet).")
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = SigningKeyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.kid} ({self.algorithm}{', retired' if self.retired_at else ''})"


class LoginCode(Owned):
    """A 6-digit sign-in code mailed to the account (tokens.code), stored as a keyed digest; single
    use, MAX_ATTEMPTS guesses, replaced by the next request."""

    digest = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()

    class Meta(Owned.Meta):
        verbose_name = "login code"

    def __str__(self) -> str:
        return f"Login code of {self.owner}"


from tokens.provider.models import (  # noqa: E402 - the provider's models live with the provider (§28)
    ClientPolicy,
    Consent,
    ProviderAccessToken,
    ProviderDeviceGrant,
    ProviderGrant,
    ProviderIDToken,
    ProviderRefreshToken,
)

__all__ = [
    "ClientPolicy", "Consent", "ProviderAccessToken", "ProviderDeviceGrant", "ProviderGrant", "ProviderIDToken",
    "ProviderRefreshToken",
]  # fmt: skip
