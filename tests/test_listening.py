"""Only the bridge faces the network: the action server, reached by Rasa alone, listens on loopback
(README "Which process faces the network"), started as `make run` starts it."""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Set
from urllib.parse import urlparse

LISTEN = "0A"


def listening_addresses(port: int) -> Set[str]:
    """The local addresses with a socket listening on ``port`` (IPv4 and IPv6), from /proc/net."""
    addresses = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != LISTEN or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # /proc/net prints each 32-bit word in host (little-endian) order.
            packed = b"".join(struct.pack("<I", struct.unpack(">I", raw[i:i + 4])[0]) for i in range(0, len(raw), 4))
            addresses.add(socket.inet_ntop(family, packed))
    return addresses


def test_the_action_server_listens_on_loopback_only(action_server_url: str) -> None:
    port = urlparse(action_server_url).port
    assert port is not None
    addresses = listening_addresses(port)
    assert addresses == {"127.0.0.1"}, addresses
