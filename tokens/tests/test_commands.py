from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from common.tests.factories import UserFactory
from tokens.models import LoginSession, PersonalAccessToken
from tokens.services import open_session
from tokens.tests.factories import PersonalAccessTokenFactory


def test_purge_tokens_removes_expired_and_revoked_only(db):
    user = UserFactory()
    live = PersonalAccessTokenFactory(owner=user)
    PersonalAccessTokenFactory(owner=user, expires_at=timezone.now() - timedelta(minutes=1))
    PersonalAccessTokenFactory(owner=user, revoked_at=timezone.now())
    open_session(user, None)
    open_session(user, None)
    LoginSession.objects.filter(pk=LoginSession.objects.first().pk).update(revoked_at=timezone.now())
    out = StringIO()
    call_command("purge_tokens", stdout=out)
    assert out.getvalue().strip() == "Removed 1 login sessions and 2 personal access tokens."
    assert list(PersonalAccessToken.objects.values_list("pk", flat=True)) == [live.pk]
    assert LoginSession.objects.count() == 1
