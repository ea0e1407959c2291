import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def application(**extra):
    return models.ForeignKey(
        on_delete=django.db.models.deletion.CASCADE,
        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        verbose_name="application",
        **extra,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_erasure"),
        ("tokens", "0009_provider"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.AddField(model_name="providergrant", name="application", field=application()),
        migrations.AddField(
            model_name="provideraccesstoken", name="application", field=application(blank=True, null=True)
        ),
        migrations.AddField(model_name="providerrefreshtoken", name="application", field=application()),
        migrations.AddField(model_name="provideridtoken", name="application", field=application(blank=True, null=True)),
        migrations.CreateModel(
            name="ClientPolicy",
            fields=[
                (
                    "application",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="policy",
                        serialize=False,
                        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
                    ),
                ),
                ("grant_types", models.JSONField(default=list)),
            ],
        ),
        migrations.CreateModel(
            name="Consent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("scopes", models.JSONField(default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "application",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="consents",
                        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="provider_consents",
                        to="accounts.user",
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("user", "application"), name="one_consent_per_client")]
            },
        ),
    ]
