"""The client's IP address: the socket's, or the trusted proxy's view of it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _normalized(address: str) -> str | None:
    """The address in canonical form, an IPv4-mapped IPv6 address as its IPv4; None if not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, unless TRUSTED_PROXY_COUNT = N > 0: then the N-th X-Forwarded-For entry from the right.

    Entries further left are written by the client and cannot be trusted. An IPv4-mapped
    IPv6 address (`::ffff:203.0.113.7`) counts as the IPv4 address it maps. When the
    header has fewer than N entries, or the entry is not an IP address, the socket
    address is used.
    """
    remote = _normalized(request.META.get("REMOTE_ADDR", "")) or "0.0.0.0"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    return _normalized(forwarded[-proxies]) or remote
