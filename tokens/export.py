"""Your data (docs/api.md §27, GDPR art. 15 and 20): everything held about an account, without
any secret (no token, digest, key material or password hash)."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import AbstractAccount
from accounts.serializers import AccountSerializer
from common import audit
from common.models import AuditEvent
from common.realms import realm_of
from common.serializers import AuditEventSerializer
from tokens.models import Identity, LoginSession, Passkey, PersonalAccessToken
from tokens.serializers import PersonalAccessTokenSerializer, SessionSerializer


@transaction.atomic
def export(account: AbstractAccount, *, context: dict[str, Any]) -> dict[str, Any]:
    realm = realm_of(account)
    mine = {realm.name: account}
    events = AuditEvent.objects.filter(realm=realm.name, account_id=account.pk).order_by("created_at", "id")
    data = {
        "account": AccountSerializer.represent(account, context),
        "sessions": [SessionSerializer(s, context=context).data for s in LoginSession.objects.filter(**mine)],
        "tokens": [PersonalAccessTokenSerializer(t).data for t in PersonalAccessToken.objects.filter(**mine)],
        "identities": [
            {"id": i.pk, "provider": i.provider, "subject": i.subject, "email": i.email, "created_at": i.created_at,
             "last_used_at": i.last_used_at}
            for i in Identity.objects.filter(**mine)
        ],
        "passkeys": [
            {"id": p.pk, "name": p.name, "backed_up": p.backed_up, "created_at": p.created_at,
             "last_used_at": p.last_used_at}
            for p in Passkey.objects.filter(**mine)
        ],
        "security_events": [AuditEventSerializer(e).data for e in events],
        "exported_at": timezone.now(),
    }  # fmt: skip
    audit.record("account.exported", account=account)
    return data
