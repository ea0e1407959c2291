"""What the account floor tells the floors above it. Each signal names its listeners.

The account floor (`accounts`) does not import the credential floor (`tokens`), yet some
account changes must end credentials; it says so here and `tokens` listens.
"""

from django.dispatch import Signal

# Sent (in the saving transaction) after an existing account's new password is saved,
# whatever the path: the API, a reset, the Django admin site's forms, a command. Arguments:
# `account`, and `event`: the audit event to record ("password.changed" or "password.reset").
# Listener: tokens.sessions.end_sessions_on_password_change (every session ends, an audit
# event and a notice mail), connected in tokens/apps.py.
password_changed = Signal()

# Sent (in the transaction) when an account is soft-deleted: it may no longer sign in.
# Listener: tokens.sessions.revoke_on_deletion (every session and personal access token
# stops at once), connected in tokens/apps.py.
account_deleted = Signal()

# Sent (in the transaction) when accounts are erased (§27), with `realm` and `ids`: every
# credential and second factor they had must go. Listeners: tokens.sessions.delete_on_erasure
# (sessions, tokens, identities, passkeys, MFA, codes), admins.invitations.forget_erased
# (the invited addresses), connected in each app's apps.py.
accounts_erasing = Signal()
