"""This service as an OpenID Provider (docs/api.md §28), on django-oauth-toolkit: the product's
other apps sign people of the user realm in with the authorization code flow (PKCE S256), the
device grant, refresh tokens (with offline_access) and RP-initiated logout."""
