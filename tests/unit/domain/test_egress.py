"""The outbound policy's pure half: which addresses, in which spellings, and the operator's allowlist."""

from __future__ import annotations

import ipaddress

import pytest

from trackbridge.domain.connections import check_base_url
from trackbridge.domain.egress import (
    AllowedNetwork,
    EgressPolicy,
    classify,
    is_localhost_name,
    parse_ip_literal,
)
from trackbridge.domain.errors import ValidationFailed
from trackbridge.runtime.settings import Settings

# host as written in a URL -> (the address a resolver connects to, why it is refused)
REFUSED_LITERALS = [
    ("127.0.0.1", "127.0.0.1", "loopback"),
    ("127.255.255.254", "127.255.255.254", "loopback"),
    ("2130706433", "127.0.0.1", "loopback"),  # one 32-bit integer
    ("0x7f000001", "127.0.0.1", "loopback"),  # hex
    ("0X7F000001", "127.0.0.1", "loopback"),
    ("0177.0.0.1", "127.0.0.1", "loopback"),  # octal first part
    ("0177.0.0.01", "127.0.0.1", "loopback"),
    ("127.1", "127.0.0.1", "loopback"),  # short form: the last part fills three bytes
    ("127.0.1", "127.0.0.1", "loopback"),
    ("0x7f.1", "127.0.0.1", "loopback"),
    ("127.0.0.1.", "127.0.0.1", "loopback"),  # trailing dot
    ("[::1]", "::1", "loopback"),
    ("::1", "::1", "loopback"),
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1", "loopback (IPv4-mapped)"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1", "loopback (IPv4-mapped)"),
    ("[::127.0.0.1]", "::7f00:1", "loopback (IPv4-compatible)"),
    ("169.254.169.254", "169.254.169.254", "link-local"),  # instance metadata
    ("2852039166", "169.254.169.254", "link-local"),
    ("0xa9fea9fe", "169.254.169.254", "link-local"),
    ("[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe", "link-local (IPv4-mapped)"),
    ("[64:ff9b::169.254.169.254]", "64:ff9b::a9fe:a9fe", "link-local (NAT64)"),
    ("[2002:a9fe:a9fe::1]", "2002:a9fe:a9fe::1", "link-local (6to4)"),
    ("[fe80::1]", "fe80::1", "link-local"),
    ("[fe80::1%25eth0]", "fe80::1%25eth0", "link-local"),
    ("10.0.0.1", "10.0.0.1", "private"),
    ("012.0.0.1", "10.0.0.1", "private"),
    ("172.16.5.4", "172.16.5.4", "private"),
    ("172.31.255.255", "172.31.255.255", "private"),
    ("192.168.1.1", "192.168.1.1", "private"),
    ("3232235777", "192.168.1.1", "private"),
    ("[::ffff:10.0.0.1]", "::ffff:a00:1", "private (IPv4-mapped)"),
    ("[64:ff9b::10.0.0.1]", "64:ff9b::a00:1", "private (NAT64)"),
    ("[2002:0a00:0001::]", "2002:a00:1::", "private (6to4)"),
    ("[fc00::1]", "fc00::1", "private"),
    ("[fd12:3456::1]", "fd12:3456::1", "private"),
    ("100.64.0.1", "100.64.0.1", "shared (carrier-grade NAT)"),
    ("100.127.255.254", "100.127.255.254", "shared (carrier-grade NAT)"),
    ("224.0.0.1", "224.0.0.1", "multicast"),
    ("239.255.255.250", "239.255.255.250", "multicast"),
    ("[ff02::1]", "ff02::1", "multicast"),
    ("255.255.255.255", "255.255.255.255", "broadcast"),
    ("4294967295", "255.255.255.255", "broadcast"),
    ("240.0.0.1", "240.0.0.1", "reserved"),
    ("0.0.0.0", "0.0.0.0", "unspecified"),  # noqa: S104 - a literal under test, not a bind address
    ("0", "0.0.0.0", "unspecified"),  # noqa: S104
    ("[::]", "::", "unspecified"),
    ("[::ffff:0.0.0.0]", "::ffff:0:0", "unspecified (IPv4-mapped)"),
    ("[2001::1]", "2001::1", "Teredo tunnel"),
    ("[64:ff9b:1::1]", "64:ff9b:1::1", "local-use NAT64"),
    ("[fec0::1]", "fec0::1", "site-local"),
    ("192.0.2.1", "192.0.2.1", "not globally routable"),  # documentation
    ("198.18.0.1", "198.18.0.1", "not globally routable"),  # benchmarking
    ("[2001:db8::1]", "2001:db8::1", "not globally routable"),
]

PUBLIC_LITERALS = [
    ("8.8.8.8", "8.8.8.8"),
    ("134744072", "8.8.8.8"),
    ("140.82.112.6", "140.82.112.6"),
    ("[2606:4700::1111]", "2606:4700::1111"),
    ("[::ffff:8.8.8.8]", "::ffff:808:808"),  # mapped to a public address: that public address
    ("[64:ff9b::8.8.8.8]", "64:ff9b::808:808"),  # NAT64 (what DNS64 answers on IPv6-only networks)
    ("[2002:0808:0808::1]", "2002:808:808::1"),
]

NAMES = [
    "api.github.com",
    "gitlab.internal",
    "localhost.example.com",
    "1.2.3.4.5",  # five parts: not an address, a (strange) name
    "foo.123",
    "0189.0.0.1",  # 8 is not an octal digit
    "256.256.256.256.example",
    "xn--nxasmq6b.example",
]


@pytest.mark.parametrize(("host", "address", "reason"), REFUSED_LITERALS)
def test_every_spelling_of_a_refused_address_is_read_and_refused(
    host: str, address: str, reason: str
) -> None:
    parsed = parse_ip_literal(host)

    assert parsed is not None
    assert parsed == ipaddress.ip_address(address)
    assert classify(parsed) == reason
    assert EgressPolicy().check_literal(host, 443) is not None


@pytest.mark.parametrize(("host", "address"), PUBLIC_LITERALS)
def test_public_addresses_pass_in_any_spelling(host: str, address: str) -> None:
    parsed = parse_ip_literal(host)

    assert parsed == ipaddress.ip_address(address)
    assert classify(parsed) is None
    assert EgressPolicy().check_literal(host, 443) is None


@pytest.mark.parametrize("host", NAMES)
def test_names_are_not_addresses_and_are_left_to_connect_time(host: str) -> None:
    assert parse_ip_literal(host) is None
    assert EgressPolicy().check_literal(host, 443) is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost.", "api.localhost", "a.b.LocalHost"])
def test_localhost_names_are_loopback_without_a_lookup(host: str) -> None:
    refusal = EgressPolicy().check_literal(host, 80)

    assert is_localhost_name(host)
    assert refusal is not None
    assert refusal.reason == "loopback"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3", "10.1.2.3/32"),
        ("10.1.2.3:8443", "10.1.2.3/32:8443"),
        ("127.0.0.1/32:8443", "127.0.0.1/32:8443"),
        ("fd00::/8", "fd00::/8"),
        ("[fd00::]/8", "fd00::/8"),
        ("[fd00::/8]:443", "[fd00::]/8:443"),
        ("fd00::/8:443", "[fd00::]/8:443"),
        ("[::1]", "::1/128"),
        ("[::1]:8443", "[::1]/128:8443"),
        ("[::1]/128:8443", "[::1]/128:8443"),
        ("  10.0.0.0/8 ,, 192.168.0.0/16:80 ", "10.0.0.0/8,192.168.0.0/16:80"),
        ("", ""),
    ],
)
def test_allowlist_syntax(text: str, expected: str) -> None:
    assert str(EgressPolicy.parse(text)) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
        ("gitlab.internal", "does not start with an IP address"),
        ("2130706433", "does not start with an IP address"),  # the allowlist takes canonical forms only
        ("10.0.0.0/33", "is not a network"),
        ("10.0.0.0/x", "invalid prefix length"),
        ("10.0.0.0/8:0", "invalid port"),
        ("10.0.0.0/8:65536", "invalid port"),
        ("10.0.0.0/8:http", "invalid port"),
        ("::1:8443", "in brackets"),  # would silently be the address ::1:8443
        ("[::1", "does not close"),
        ("[::1]8443", "only ':port'"),
        ("[::1/128]/128", "twice"),
    ],
)
def test_a_bad_allowlist_entry_is_refused_naming_it(text: str, says: str) -> None:
    with pytest.raises(ValueError, match="TB_ALLOWED_PRIVATE_NETWORKS") as raised:
        EgressPolicy.parse(text)
    assert says in str(raised.value)


def test_the_allowlist_lets_exactly_its_networks_and_ports_through() -> None:
    policy = EgressPolicy.parse("10.0.0.0/8,127.0.0.1/32:8443,[::1]:8443")
    address = ipaddress.ip_address

    assert policy.refusal_reason(address("10.20.30.40"), 443) is None
    assert policy.refusal_reason(address("10.20.30.40"), 22) is None  # no port: every port
    assert policy.refusal_reason(address("127.0.0.1"), 8443) is None
    assert policy.refusal_reason(address("127.0.0.1"), 8444) == "loopback"
    assert policy.refusal_reason(address("127.0.0.2"), 8443) == "loopback"
    assert policy.refusal_reason(address("::1"), 8443) is None
    assert policy.refusal_reason(address("::1"), 80) == "loopback"
    assert policy.refusal_reason(address("172.16.0.1"), 443) == "private"
    assert policy.refusal_reason(address("169.254.169.254"), 80) == "link-local"
    # The IPv6 spellings of an allowed IPv4 address lead to it, so they pass too.
    assert policy.refusal_reason(address("::ffff:10.0.0.5"), 443) is None
    assert policy.refusal_reason(address("::ffff:127.0.0.1"), 8443) is None


def test_nothing_allowlists_unspecified_multicast_or_broadcast() -> None:
    everything = EgressPolicy.parse("0.0.0.0/0,::/0")
    address = ipaddress.ip_address

    assert everything.refusal_reason(address("10.0.0.1"), 80) is None
    assert everything.refusal_reason(address("0.0.0.0"), 80) == "unspecified"  # noqa: S104
    assert everything.refusal_reason(address("::"), 80) == "unspecified"
    assert everything.refusal_reason(address("::ffff:0.0.0.0"), 80) == "unspecified (IPv4-mapped)"
    assert everything.refusal_reason(address("224.0.0.1"), 80) == "multicast"
    assert everything.refusal_reason(address("255.255.255.255"), 80) == "broadcast"


def test_a_refusal_says_what_and_how_to_allow_it() -> None:
    refusal = EgressPolicy().check_literal("0x7f000001", 8443)

    assert refusal is not None
    assert refusal.message == (
        "0x7f000001:8443 (it resolves to 127.0.0.1) is not a public address (loopback): "
        "trackbridge does not contact it"
    )
    assert "TB_ALLOWED_PRIVATE_NETWORKS" in refusal.guidance
    assert "127.0.0.1/32:8443" in refusal.guidance
    v6 = EgressPolicy().check_literal("[::1]", 8443)
    assert v6 is not None
    assert "[::1]/128:8443" in v6.guidance
    assert str(AllowedNetwork.parse("[::1]/128:8443")) == "[::1]/128:8443"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
        "http://[::ffff:7f00:1]",
        "https://169.254.169.254",
        "https://10.1.2.3",
        "http://0.0.0.0",
    ],
)
def test_check_base_url_is_a_422_at_the_field(url: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        check_base_url(url, EgressPolicy())

    error = raised.value.details["errors"][0]
    assert error["path"] == "body.base_url"
    assert error["type"] == "egress_denied"
    assert "not a public address" in error["message"]
    never = "(unspecified)" in error["message"]  # no allowlist can help there: the guidance says so
    assert ("TB_ALLOWED_PRIVATE_NETWORKS" in (raised.value.guidance or "")) is not never


def test_check_base_url_passes_names_public_addresses_and_allowlisted_ones() -> None:
    check_base_url("https://api.github.com", EgressPolicy())
    check_base_url("https://gitlab.internal", EgressPolicy())  # a name: checked when connecting
    check_base_url("https://140.82.112.6", EgressPolicy())
    check_base_url("https://10.1.2.3", EgressPolicy.parse("10.0.0.0/8"))
    check_base_url("http://127.0.0.1:8443", EgressPolicy.parse("127.0.0.1:8443"))
    with pytest.raises(ValidationFailed):
        check_base_url("http://127.0.0.1:8444", EgressPolicy.parse("127.0.0.1:8443"))
    with pytest.raises(ValidationFailed):  # the default port of the scheme counts
        check_base_url("https://127.0.0.1", EgressPolicy.parse("127.0.0.1:80"))


def test_settings_read_and_validate_the_allowlist() -> None:
    settings = Settings.from_env({"TB_ALLOWED_PRIVATE_NETWORKS": "10.0.0.0/8, [::1]:8443"})

    assert str(settings.egress_policy) == "10.0.0.0/8,[::1]/128:8443"
    assert Settings.from_env({}).egress_policy == EgressPolicy()
    with pytest.raises(ValueError, match=r"did you mean 10\.0\.0\.0/8"):
        Settings.from_env({"TB_ALLOWED_PRIVATE_NETWORKS": "10.0.0.1/8"})
