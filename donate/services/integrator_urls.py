"""Where integrator webhooks may be sent: refuse private networks outside development (SSRF).

In production and staging an endpoint must be ``https://`` and its host must resolve only
to public addresses; the check runs when the endpoint is saved and again before every
delivery (a name can be re-pointed at an internal address after it was saved). In
development, test and demo, ``http://`` and local addresses are allowed, so a receiver on
the same machine works.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from donate.settings import Settings

LOCAL_ENVIRONMENTS = ("development", "test", "demo")
MAX_URL_LENGTH = 2048


class UnsafeUrl(ValueError):
    """The URL is malformed or points where webhooks may not go; the message says why."""


def allows_private(settings: Settings) -> bool:
    return settings.environment in LOCAL_ENVIRONMENTS


def check_form(url: str, *, allow_private: bool) -> str:
    """The URL's host, if the URL has an acceptable form; else UnsafeUrl."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl("not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("must start with https://" if not allow_private else "must be http(s)")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("credentials in the URL are not allowed; verify the signature instead")
    if parts.fragment:
        raise UnsafeUrl("no #fragment")
    if port == 0:
        raise UnsafeUrl("not a valid port")
    return parts.hostname


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(host: str) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeUrl(f"the host {host!r} cannot be resolved") from exc
    return sorted({str(info[4][0]) for info in infos})


async def check_url(url: str, settings: Settings) -> list[str]:
    """Raise UnsafeUrl unless webhooks may be sent to ``url`` under ``settings``. Returns
    the vetted public addresses of the host (empty where private ones are allowed)."""
    allow_private = allows_private(settings)
    host = check_form(url, allow_private=allow_private)
    if allow_private:
        return []
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        raise UnsafeUrl("private and loopback addresses are not allowed")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = await resolve(host)
    if not addresses or not all(_public(a) for a in addresses):
        raise UnsafeUrl("private and loopback addresses are not allowed")
    return addresses


@dataclass(frozen=True, slots=True)
class Pinned:
    """A request to ``url`` sent to one vetted address: the connection goes to the address
    (no second DNS lookup that could be re-pointed inside the network), while the Host
    header and TLS (SNI and certificate check) still use the name."""

    url: str
    host_header: str
    sni_hostname: str


def pin(url: str, address: str) -> Pinned:
    parts = urlsplit(url)
    assert parts.hostname is not None
    literal = f"[{address}]" if ":" in address else address
    netloc = literal + (f":{parts.port}" if parts.port is not None else "")
    return Pinned(urlunsplit(parts._replace(netloc=netloc)), parts.netloc, parts.hostname)
