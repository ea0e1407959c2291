"""The admin site's "Invite" page (the user and admin lists link to it): the API's rules and
write path (admins.invitations), a form in the site's look."""

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from admins import invitations, roles
from admins.models import Role
from common.exceptions import DomainError
from common.realms import REALMS

CREATE = {"user": "accounts.add_user", "admin": "admins.add_admin"}
LISTS = {"user": "admin:accounts_user_changelist", "admin": "admin:admins_admin_changelist"}


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=255, required=False)
    roles = forms.ModelMultipleChoiceField(queryset=Role.objects.none(), required=False,
                                           widget=forms.CheckboxSelectMultiple)  # fmt: skip

    def __init__(self, *args: Any, actor: Any, realm: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if realm == "admin":  # only the roles whose permissions the operator holds
            held = [role.pk for role in roles.roles() if roles.holds_all(actor, role)]
            self.fields["roles"].queryset = Role.objects.filter(pk__in=held)
        else:
            del self.fields["roles"]


def invite_page(site: Any, request: HttpRequest, realm: str) -> HttpResponse:
    if realm not in CREATE:
        raise Http404("No such realm")
    if not request.user.has_perm(CREATE[realm]):
        raise PermissionDenied
    form = InviteForm(request.POST or None, actor=request.user, realm=realm)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitations.create(actor=request.user, realm=REALMS[realm], email=data["email"], name=data["name"],
                               role_ids=[r.pk for r in data.get("roles") or []], request=request)  # fmt: skip
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Invitation sent to {data['email']}.")
            return HttpResponseRedirect(reverse(LISTS[realm], current_app=site.name))
    context = {**site.each_context(request), "form": form, "realm": realm, "title": f"Invite to the {realm} realm"}
    return TemplateResponse(request, "admins/invite.html", context)
