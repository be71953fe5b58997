"""`X-Forwarded-For` is believed only from trusted proxies."""

from __future__ import annotations

from graphchat.security.client_ip import client_ip
from graphchat.settings.security import parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "192.168.1.1"])


def test_the_peer_is_the_client_when_it_is_not_a_proxy() -> None:
    assert client_ip("203.0.113.9", "198.51.100.1", PROXIES) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client() -> None:
    assert client_ip("10.1.2.3", "198.51.100.1", PROXIES) == "198.51.100.1"


def test_addresses_a_client_wrote_left_of_the_real_one_are_ignored() -> None:
    forwarded = "1.1.1.1, 198.51.100.1, 192.168.1.1"

    assert client_ip("10.0.0.5", forwarded, PROXIES) == "198.51.100.1"


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_ip("127.0.0.1", "198.51.100.1", []) == "127.0.0.1"
