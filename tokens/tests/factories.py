from datetime import timedelta

import factory
from django.utils import timezone

from common.realms import realm_of
from common.tests.factories import UserFactory
from tokens import pats
from tokens.models import PersonalAccessToken


class PersonalAccessTokenFactory(factory.django.DjangoModelFactory):
    """A PAT of `owner` (a user unless given); its plain secret is left on `.secret`."""

    class Meta:
        model = PersonalAccessToken

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"token {n}")
    secret = factory.Sequence(lambda n: f"{pats.PAT_PREFIX}{n:08d}{'k' * 32}")
    digest = factory.LazyAttribute(lambda o: pats.digest(o.secret))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        owner, secret = kwargs.pop("owner"), kwargs.pop("secret")
        token = super()._create(model_class, *args, **{realm_of(owner).name: owner}, **kwargs)
        token.secret = secret
        return token
