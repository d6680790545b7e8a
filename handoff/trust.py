"""The real client address behind reverse proxies (HANDOFF_TRUSTED_PROXIES).

Only a proxy we run may say who its client is: ``Forwarded`` and
``X-Forwarded-For`` are believed when the socket's peer is a configured trusted
proxy, and then only as far back as the chain runs through trusted proxies;
anyone else is known by the peer address, whatever headers they send.

Per-address caps count an IPv6 client by its network (HANDOFF_IPV6_PREFIX, a /64 by
default): one home connection is given 2^64 addresses, so counting each apart
would let it skip every cap. IPv4 addresses are counted one by one.
"""

from __future__ import annotations

import ipaddress
from typing import List, Mapping, Optional, Sequence, Tuple, Union

__all__ = ["Network", "address_group", "client_address", "parse_networks"]

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_networks(text: str) -> Tuple[Network, ...]:
    """``HANDOFF_TRUSTED_PROXIES``: addresses or CIDR blocks, separated by commas."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _address(text: str) -> Optional[str]:
    """A bare IP address from a header's element ('[::1]:80', '1.2.3.4:5', '"for=..."'), or None."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _forwarded_chain(headers: Mapping[str, str]) -> List[Optional[str]]:
    """The addresses the proxies in front of us saw, in order (client first); standard
    ``Forwarded`` wins over ``X-Forwarded-For`` when both are there."""
    forwarded = headers.get("forwarded")
    if forwarded:
        chain: List[Optional[str]] = []
        for element in forwarded.split(","):
            for pair in element.split(";"):
                name, _, value = pair.partition("=")
                if name.strip().lower() == "for":
                    chain.append(_address(value))
        return chain
    return [_address(part) for part in headers.get("x-forwarded-for", "").split(",") if part.strip()]


def client_address(peer: str, headers: Mapping[str, str], trusted: Sequence[Network]) -> str:
    """Who is really asking. Behind trusted proxies, the rightmost address in the forwarded chain
    that is not itself a trusted proxy (what a client writes to the left of it is not believed);
    from anyone else, the peer: a client cannot choose its address by sending a header."""
    def is_trusted(address: Optional[str]) -> bool:
        return address is not None and any(ipaddress.ip_address(address) in network for network in trusted)

    current = _address(peer)
    if current is None or not is_trusted(current):
        return current or peer
    for hop in reversed(_forwarded_chain(headers)):
        if hop is None:
            return current  # a garbled hop: the last address we can vouch for
        current = hop
        if not is_trusted(hop):
            return hop
    return current


def address_group(address: str, ipv6_prefix: int) -> str:
    """What a per-address cap counts: an IPv6 address's /``ipv6_prefix`` network
    ("2001:db8:1:2::/64"), an IPv4 address itself (and anything unparsable as it is)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped:  # ::ffff:203.0.113.7 is an IPv4 client
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, ipv6_prefix), strict=False))
    return str(parsed)
