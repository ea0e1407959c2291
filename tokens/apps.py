from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Sign-in and sessions"

    def ready(self) -> None:
        from accounts import signals
        from tokens import schema  # noqa: F401 - registers the OpenAPI security schemes
        from tokens.provider import services as provider
        from tokens.sessions import delete_on_erasure, end_sessions_on_password_change, revoke_on_deletion

        signals.password_changed.connect(end_sessions_on_password_change, dispatch_uid="tokens.end_sessions")
        signals.account_deleted.connect(revoke_on_deletion, dispatch_uid="tokens.revoke_on_deletion")
        signals.accounts_erasing.connect(delete_on_erasure, dispatch_uid="tokens.delete_on_erasure")
        signals.password_changed.connect(provider.on_account_change, dispatch_uid="tokens.provider.password")
        signals.account_deleted.connect(provider.on_account_change, dispatch_uid="tokens.provider.deleted")
        signals.accounts_erasing.connect(provider.on_erasure, dispatch_uid="tokens.provider.erasure")
