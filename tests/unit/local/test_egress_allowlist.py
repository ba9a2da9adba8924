"""The embedded stack's outbound allowlist: exactly its sandbox trackers' loopback host and ports."""

from __future__ import annotations

from infra.local.stack import sandbox_allowlist
from trackbridge.domain.egress import EgressPolicy


def test_every_sandbox_url_and_nothing_else_is_allowlisted() -> None:
    trackers = {
        "github": {"url": "http://127.0.0.1:8101", "token": "t", "repo": "acme/web"},
        "gitlab": {"url": "http://127.0.0.1:8102", "project": "acme/web"},
        "jira": {"url": "http://127.0.0.1:8103", "oauth_url": "http://127.0.0.1:8104", "email": "a@b.c"},
    }

    allowlist = sandbox_allowlist(trackers)

    assert allowlist == "127.0.0.1/32:8101,127.0.0.1/32:8102,127.0.0.1/32:8103,127.0.0.1/32:8104"
    assert len(EgressPolicy.parse(allowlist).allowed) == 4  # valid policy syntax, one entry per URL
    assert sandbox_allowlist({}) == ""


def test_urls_without_an_address_and_port_are_left_out() -> None:
    trackers = {"x": {"url": "http://localhost:8101", "oauth_url": "http://127.0.0.1", "other": 3}}

    assert sandbox_allowlist(trackers) == ""


def test_an_ipv6_sandbox_is_written_in_brackets() -> None:
    assert sandbox_allowlist({"x": {"url": "http://[::1]:8101"}}) == "[::1]/128:8101"
