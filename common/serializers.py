"""Shapes that belong to no single app: the output serializer base, audit events."""

import copy
from typing import Any

from rest_framework import serializers

from common.models import AuditEvent
from common.realms import REALMS


class OutputSerializer(serializers.Serializer):
    """A serializer for responses whose plain fields are copied shallowly for each instance.

    DRF deep-copies every declared field per serializer instance, which re-runs each field's
    `__init__`: the largest cost of `GET /users/me` after the database. A field used only to
    represent keeps no state but what `bind()` sets on its own copy, so a shallow copy is enough.
    Nested serializers are still deep-copied.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    @classmethod
    def represent(cls, instance: Any, context: dict[str, Any] | None = None) -> dict[str, Any]:
        """`cls(instance, context=context).data`, without building and binding a field per instance
        (the hot paths' responses): each declared field represents its attribute, method fields
        call the serializer's `get_<name>`. A test holds it equal to `.data`."""
        serializer = cls(context=context or {})
        data = {}
        for name, source, field in cls._plan():
            if field is None:
                data[name] = getattr(serializer, f"get_{name}")(instance)
                continue
            value = getattr(instance, source)
            data[name] = None if value is None else field.to_representation(value)
        return data

    @classmethod
    def _plan(cls) -> list[tuple[str, str, serializers.Field | None]]:
        plan = cls.__dict__.get("_represent_plan")
        if plan is None:
            plan = [
                (name, field.source or name, None if isinstance(field, serializers.SerializerMethodField) else field)
                for name, field in cls._declared_fields.items()
            ]
            cls._represent_plan = plan
        return plan


class AuditEventSerializer(OutputSerializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    event = serializers.ChoiceField(choices=AuditEvent.EVENTS)
    realm = serializers.ChoiceField(choices=list(REALMS))
    account_id = serializers.IntegerField(allow_null=True)
    actor = serializers.SerializerMethodField()
    ip_address = serializers.CharField(allow_null=True)
    user_agent = serializers.CharField()
    request_id = serializers.CharField()
    details = serializers.DictField()

    def get_actor(self, event: AuditEvent) -> dict[str, Any] | None:
        """Who did it, when that is another account (an admin acting on a user); else null."""
        if event.actor_id is None:
            return None
        return {"realm": event.actor_realm, "id": event.actor_id}


class AuditFilterSerializer(serializers.Serializer):
    realm = serializers.ChoiceField(choices=list(REALMS), required=False)
    account_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    event = serializers.ChoiceField(choices=AuditEvent.EVENTS, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
