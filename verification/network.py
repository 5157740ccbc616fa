"""Client addresses: the request's address (behind a trusted proxy), and the network its send budget counts by.

Its own module, below both `models` (a challenge derives `client_network` on save) and `throttling`
(which counts challenge rows): in either of those, the other would import it back.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from verification.conf import conf

__all__ = ["client_ip", "client_network"]


def client_ip(meta: Mapping[str, Any]) -> str | None:
    """Return the client's address: the right-most one in VERIFICATION_CLIENT_IP_HEADER, else REMOTE_ADDR.

    The right-most entry is the one the trusted proxy appended; anything to its left is what the
    client claimed. A value that is not an IP address is ignored; None when nothing valid is found.
    """
    header = conf.CLIENT_IP_HEADER
    if header:
        entries = str(meta.get(header, "")).split(",")
        candidate = _valid_ip(entries[-1])
        if candidate:
            return candidate
    return _valid_ip(str(meta.get("REMOTE_ADDR", "")))


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_network(ip: str | None, ipv6_prefix: int | None = None) -> str:
    """Return what a client address is budgeted by: an IPv4 address itself, an IPv6 address's network.

    An IPv6 subscriber usually holds a whole /64 (VERIFICATION_IPV6_PREFIX) and can use any address in
    it, so each address must not get a budget of its own. IPv4-mapped IPv6 addresses count as IPv4.
    "" for no address.
    """
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an address (never from client_ip): budgeted by its own text
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        prefix = conf.IPV6_PREFIX if ipv6_prefix is None else ipv6_prefix
        return str(ipaddress.IPv6Network((address, prefix), strict=False))
    return str(address)
