"""Who is on the other end of a request: the client address, and its keyed hash for limits.

X-Forwarded-For is believed only from a configured trusted proxy (TONGBAN_TRUSTED_PROXIES).
"""

from __future__ import annotations

import ipaddress

from tongban.security.keys import Keys
from tongban.settings import Network, settings


def _parse(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((address or "").strip().strip("[]"))
    except ValueError:
        return None


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...] | None = None
) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    untrusted address in X-Forwarded-For (read from the right, as each proxy appends)."""
    trusted = settings().trusted_proxies if trusted is None else trusted
    current = _parse(peer)
    if current is None:
        return "unknown"
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    while any(current in net for net in trusted) and hops:
        forwarded = _parse(hops.pop())
        if forwarded is None:
            break
        current = forwarded
    return str(current)


def client_key(address: str, keys: Keys | None = None) -> str:
    """What the conversation stores about the client: a keyed hash, never the address."""
    return (keys or Keys.default()).digest("client", address)


def request_client_key(request: object) -> str:
    """The client key of a Sanic request (socket.io's environ carries the same request)."""
    peer = getattr(request, "remote_addr", None) or getattr(request, "ip", None)
    headers = getattr(request, "headers", {}) or {}
    return client_key(client_address(peer, headers.get("x-forwarded-for")))
