"""OutputSerializer.represent, the hot paths' shortcut, against DRF's own `.data` for every response shape."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("avatar", ["", "avatars/abc.png"])
def test_represent_equals_drf_data_for_every_output_serializer(avatar, rf):
    """The hot paths' shortcut gives exactly what DRF gives, for accounts and every other response shape."""
    from django.utils import timezone

    from accounts.serializers import AccountSerializer, ManagedAccountSerializer
    from common.serializers import AuditEventSerializer, OutputSerializer
    from common.tests.factories import UserFactory
    from tokens.models import LoginSession
    from tokens.serializers import PersonalAccessTokenSerializer, SessionSerializer
    from tokens.tests.factories import PersonalAccessTokenFactory

    user = UserFactory(avatar=avatar, phone="+15550001234", last_login_at=timezone.now(), locked_until=None)
    context = {"request": rf.get("/users/me"), "current_session_id": 1}
    session = LoginSession.objects.create(user=user, refresh_jti="x", expires_at=timezone.now(), ip_address="::1")
    from common import audit

    cases = [
        (AccountSerializer, user), (ManagedAccountSerializer, user), (SessionSerializer, session),
        (PersonalAccessTokenSerializer, PersonalAccessTokenFactory(owner=user)),
        (AuditEventSerializer, audit.record("account.updated", account=user, fields=["name"])),
    ]  # fmt: skip
    for serializer, instance in cases:
        assert issubclass(serializer, OutputSerializer)
        assert serializer.represent(instance, context) == serializer(instance, context=context).data, serializer
