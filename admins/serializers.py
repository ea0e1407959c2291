from typing import Any

from rest_framework import serializers

from accounts.models import User
from accounts.passwords import password_problems
from accounts.serializers import PasswordField, ProfileFieldsSerializer

ORDERINGS = ["id", "username", "email", "created_at"]


class UserListParams(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=255)
    is_active = serializers.ChoiceField(choices=["true", "false"], required=False)
    deleted = serializers.ChoiceField(choices=["exclude", "include", "only"], default="exclude")
    ordering = serializers.ChoiceField(choices=[*ORDERINGS, *(f"-{o}" for o in ORDERINGS)], default="id")


class ManagedUserUpdateSerializer(ProfileFieldsSerializer):
    """What an admin may change on a user (the avatar is the user's own business)."""

    is_active = serializers.BooleanField(required=False)
    password = PasswordField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "password" in attrs:
            user: User = self.context["user"]
            candidate = User(
                username=attrs.get("username", user.username),
                email=attrs.get("email", user.email),
                name=attrs.get("name", user.name),
            )
            if problems := password_problems(attrs["password"], candidate):
                raise serializers.ValidationError({"password": problems})
        return attrs
