"""Client addresses for the case-lookup limits: X-Forwarded-For only from a trusted proxy."""

from __future__ import annotations

import ipaddress

from tongban.channels.client import client_address, client_key
from tongban.security.keys import Keys

NGINX = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


def test_the_peer_address_is_used_when_no_proxy_is_trusted() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", trusted=()) == "203.0.113.9"


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    assert client_address("127.0.0.1", "198.51.100.7", trusted=NGINX) == "198.51.100.7"
    assert client_address("203.0.113.9", "198.51.100.7", trusted=NGINX) == "203.0.113.9"


def test_a_client_cannot_prepend_a_fake_address() -> None:
    # the client sent "X-Forwarded-For: 6.6.6.6"; nginx appended the real peer
    assert client_address("127.0.0.1", "6.6.6.6, 198.51.100.7", trusted=NGINX) == "198.51.100.7"
    # a chain of trusted proxies is walked from the right
    assert client_address("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.1", NGINX) == "198.51.100.7"


def test_garbage_in_forwarded_for_stops_at_the_last_good_hop() -> None:
    assert client_address("127.0.0.1", "not-an-ip", trusted=NGINX) == "127.0.0.1"
    assert client_address(None, None, trusted=NGINX) == "unknown"


def test_the_key_is_a_keyed_hash_not_the_address() -> None:
    keys = Keys(b"test-secret")
    key = client_key("198.51.100.7", keys)
    assert "198" not in key and len(key) == 32
    assert key == client_key("198.51.100.7", keys) != client_key("198.51.100.8", keys)
    assert key != client_key("198.51.100.7", Keys(b"another-secret"))
