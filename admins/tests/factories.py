import factory

from accounts.tests.factories import PASSWORD
from admins.models import Admin


class AdminFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Admin
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"admin{n}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password(PASSWORD)
    is_staff = True
    is_superuser = True
