"""OpenAPI security schemes: one bearer scheme per realm (drf-spectacular ignores unknown classes)."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class RealmBearerScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.RealmAuthentication"
    name = "Bearer"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object("HTTP_AUTHORIZATION", "Bearer", "JWT or pat_...")
        realm = self.target.realm
        scheme["description"] = (
            f"{realm.title} realm: an access token from the {realm.name} login or a {realm.name} personal access token."
        )
        return scheme


class UserBearerScheme(RealmBearerScheme):
    target_class = "tokens.authentication.UserAuthentication"
    name = "UserBearer"


class AdminBearerScheme(RealmBearerScheme):
    target_class = "tokens.authentication.AdminAuthentication"
    name = "AdminBearer"


class RealmSessionScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.RealmSessionAuthentication"
    name = "Session"

    def get_security_definition(self, auto_schema):
        realm = self.target.realm
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": f"{realm.title} realm browser session (unsafe methods also need the X-CSRFToken header).",
        }


class UserSessionScheme(RealmSessionScheme):
    target_class = "tokens.authentication.UserSessionAuthentication"
    name = "UserSession"


class AdminSessionScheme(RealmSessionScheme):
    target_class = "tokens.authentication.AdminSessionAuthentication"
    name = "AdminSession"
