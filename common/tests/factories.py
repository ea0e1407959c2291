"""Account factories for both realms. Models are named by label, so every app's tests can use
them without importing an app above its own floor."""

import factory

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.User"
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    name = factory.Faker("name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    email_verified = True
    phone = None
    password = factory.django.Password(PASSWORD)


class AdminFactory(UserFactory):
    class Meta:
        model = "admins.Admin"
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True
