from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "tokens"
    verbose_name = "Tokens and sessions"

    def ready(self) -> None:
        from common.models import password_changed
        from tokens import schema  # noqa: F401 - registers the OpenAPI security schemes
        from tokens.services import end_sessions_on_password_change

        password_changed.connect(end_sessions_on_password_change, dispatch_uid="tokens.end_sessions")
