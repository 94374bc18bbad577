"""The client's IP address, believing ``X-Forwarded-For`` only from trusted proxies.

The right-most address that is not a trusted proxy is the client: everything to its left
was written by the client itself and may be forged. (``donate serve`` also gives uvicorn the
same list, which then already rewrites the peer address; walking again is harmless.)
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.requests import Request

from donate.web.state import app_state

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(addr in net for net in networks)


def _host(hop: str) -> str:
    """``1.2.3.4``, ``1.2.3.4:567``, ``2001:db8::1`` or ``[2001:db8::1]:567`` → the address."""
    if hop.startswith("["):
        return hop[1 : hop.find("]")]
    if hop.count(":") == 1:
        return hop.split(":", 1)[0]
    return hop


def resolve(peer: str, forwarded_for: list[str], trusted: tuple[str, ...]) -> str:
    """``peer`` (the TCP peer), or the right-most untrusted hop of ``forwarded_for``."""
    networks = _networks(trusted)
    if not _trusted(peer, networks):
        return peer
    hops = [_host(h.strip()) for value in forwarded_for for h in value.split(",") if h.strip()]
    for host in reversed(hops):
        if not _trusted(host, networks):
            try:
                return str(ipaddress.ip_address(host))
            except ValueError:
                return peer  # not an address: the proxy did not write it, trust nothing
    return hops[0] if hops else peer  # only proxies: the left-most one asked


def client_ip(request: Request) -> str:
    peer = request.client.host if request.client else ""
    trusted = app_state(request).runtime.settings.trusted_proxies
    return resolve(peer, request.headers.getlist("x-forwarded-for"), trusted)
