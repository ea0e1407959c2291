"""The client's IP address: the socket's, or the trusted proxy's view of it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, unless TRUSTED_PROXY_COUNT = N > 0: then the N-th X-Forwarded-For entry from the right.

    Entries further left are written by the client and cannot be trusted. When the
    header has fewer than N entries, or the entry is not an IP address, the socket
    address is used.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    remote = remote if _valid(remote) else "0.0.0.0"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    return candidate if _valid(candidate) else remote
