"""Invitations through the API (docs/api.md §26): operators invite, list, resend and revoke; the
invited person inspects and accepts in their realm. The rules: admins.invitations."""

from rest_framework.request import Request
from rest_framework.response import Response

from admins import invitations
from admins.apis import AdminApi
from admins.serializers import (
    AcceptInvitationSerializer,
    InvitationInputSerializer,
    InvitationListParams,
    InvitationSerializer,
    InvitationTokenSerializer,
    InvitationViewSerializer,
)
from common.apis import PublicApi
from common.envelope import ok
from common.exceptions import ValidationFailed
from common.pagination import paginate
from common.permissions import Requires, requiring
from common.realms import REALMS
from common.schema import PAGE_PARAMETERS, api_doc

TAGS = ["admin invitations"]
VIEW = {"user": "accounts.view_user", "admin": "admins.view_admin"}
CREATE = {"user": "accounts.add_user", "admin": "admins.add_admin"}


class InvitationListApi(AdminApi):
    name = "Invitations"
    permission_classes = requiring(GET=Requires.per_realm(**VIEW), POST=Requires.per_realm(**CREATE))
    form_serializers = {"POST": InvitationInputSerializer}

    def realm_in_question(self, request: Request) -> str:
        """POST: the body's realm; GET: the `realm` filter, else the realm the admin may view (users first)."""
        if request.method == "POST":
            realm = request.data.get("realm") if isinstance(request.data, dict) else None
            if not isinstance(realm, str) or realm not in CREATE:
                raise ValidationFailed(details={"realm": ['"user" or "admin".']})
            return realm
        realm = request.query_params.get("realm")
        if realm in VIEW:
            return realm
        return "user" if request.user.has_perm(VIEW["user"]) else "admin"

    @api_doc(summary="Invitations, newest first", responses={200: (InvitationSerializer, True)},
             errors=(400, 401, 403), parameters=PAGE_PARAMETERS, tags=TAGS)  # fmt: skip
    def get(self, request: Request) -> Response:
        params = InvitationListParams(data=request.query_params)
        params.is_valid(raise_exception=True)
        viewable = [realm for realm, permission in VIEW.items() if request.user.has_perm(permission)]
        found = invitations.listing(realms=viewable, **params.validated_data)
        return ok(paginate(found, request.query_params, InvitationSerializer), "Invitations retrieved")

    @api_doc(summary="Invite someone (mails a link valid for INVITATION_TIMEOUT_DAYS)",
             request=InvitationInputSerializer, responses={201: InvitationSerializer},
             errors=(400, 401, 403, 409, 415), tags=TAGS)  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.validated(InvitationInputSerializer)
        invitation = invitations.create(
            actor=request.user, realm=REALMS[data["realm"]], email=data["email"], name=data["name"],
            role_ids=data["roles"], request=request,
        )  # fmt: skip
        return ok(InvitationSerializer(invitation).data, "Invitation sent", 201)


class InvitationApi(AdminApi):
    """One invitation: the permission to create invitations of its realm."""

    permission_classes = requiring(Requires.per_realm(**CREATE))

    def realm_in_question(self, request: Request) -> str:
        self.invitation = invitations.get(int(self.kwargs["invitation_id"]))
        return self.invitation.realm


class InvitationDetailApi(InvitationApi):
    name = "Invitation"

    @api_doc(summary="Revoke an invitation (its link stops working)", responses={200: None},
             errors=(401, 403, 404, 409), tags=TAGS)  # fmt: skip
    def delete(self, request: Request, invitation_id: str) -> Response:
        invitations.revoke(actor=request.user, invitation=self.invitation)
        return ok(None, "Invitation revoked")


class InvitationResendApi(InvitationApi):
    name = "Resend an invitation"

    @api_doc(summary="Mail a new link (the earlier one dies)", request=None, responses={200: InvitationSerializer},
             errors=(401, 403, 404, 409), tags=TAGS)  # fmt: skip
    def post(self, request: Request, invitation_id: str) -> Response:
        invitation = invitations.resend(actor=request.user, invitation=self.invitation, request=request)
        return ok(InvitationSerializer(invitation).data, "Invitation sent again")


class InspectInvitationApi(PublicApi):
    name = "Inspect an invitation"
    form_serializers = {"POST": InvitationTokenSerializer}

    @api_doc(summary="What an invitation's link is for", request=InvitationTokenSerializer,
             responses={200: InvitationViewSerializer}, errors=(400, 415), auth=[])  # fmt: skip
    def post(self, request: Request) -> Response:
        invitation = invitations.inspect(self.realm, self.validated(InvitationTokenSerializer)["token"])
        return ok(InvitationViewSerializer(invitation).data, "Invitation retrieved")


class AcceptInvitationApi(PublicApi):
    name = "Accept an invitation"
    form_serializers = {"POST": AcceptInvitationSerializer}

    @api_doc(summary="Make the invited account and sign in (works while registration is closed)",
             request=AcceptInvitationSerializer, responses={201: None}, errors=(400, 409, 415, 429),
             auth=[])  # fmt: skip
    def post(self, request: Request) -> Response:
        token = self.validated(InvitationTokenSerializer)["token"]
        invitation = invitations.inspect(self.realm, token)
        context = {"model": self.realm.model, "email": invitation.email}
        data = self.validated(AcceptInvitationSerializer, context=context)
        data.pop("token")
        result = invitations.accept(realm=self.realm, token=token, data=data, request=request)
        return ok(result, "Invitation accepted", 201, secret=True)
