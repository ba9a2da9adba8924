"""The outbound policy at connect time, and redirects: only loopback traffic, refusals before any packet.

Names resolve through a fake resolver (a dict), and every connection of the clients under test goes through
:class:`~tests.support.loopback.LoopbackOnly`, which records where it goes and raises instead of opening a
socket anywhere but loopback: a broken policy fails these tests without sending a packet. The two origins of
the redirect tests are two loopback addresses, 127.0.0.1 and 127.0.0.2.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.local.trackers.gitlab import GitLabSandbox
from tests.support.loopback import LoopbackOnly, Reply, Server, serve
from tests.support.sandboxes import allowlist_for
from trackbridge.domain.egress import EgressPolicy, IPAddress
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.providers.base import MAX_REDIRECTS, TrackerAdapter
from trackbridge.providers.egress import egress_client
from trackbridge.providers.errors import EgressDeniedError, MalformedResponseError, TrackerMovedError
from trackbridge.providers.registry import create_adapter
from trackbridge.providers.retry import RetryPolicy
from trackbridge.providers.types import TrackerConfig

pytestmark = pytest.mark.integration

CONNECTION_ID = "conn_egressegressegressab"
NO_RETRY = RetryPolicy(max_attempts=1)


class FakeResolver:
    """Names to addresses, as a dict: each name has one answer per call (the last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append((host, port))
        if host not in self.answers:
            raise OSError(f"no such name: {host}")
        answers = self.answers[host]
        answer = answers[min(len(self.calls), len(answers)) - 1]
        return [ipaddress.ip_address(a) for a in answer]


@pytest.fixture(scope="module")
def gitlab() -> Iterator[GitLabSandbox]:
    with GitLabSandbox(seed="egress", issues=3, comments_per_issue=0) as sandbox:
        yield sandbox


def gitlab_adapter(base_url: str, sandbox: GitLabSandbox, **options: Any) -> TrackerAdapter:
    config = TrackerConfig(base_url, {"project": sandbox.state.full_path}, CONNECTION_ID)
    return create_adapter("gitlab", config, {"token": sandbox.token}, retry=NO_RETRY, **options)


# ---- names: every address is checked, before any connection --------------------------------------------


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.0.0.1"],
        ["169.254.169.254"],
        ["fd00::1"],
        ["::ffff:169.254.169.254"],
        ["100.64.1.1"],
        ["140.82.112.6", "10.0.0.1"],  # one public, one private: the name is refused
        ["10.0.0.1", "140.82.112.6"],
        ["2606:4700::1111", "127.0.0.1"],
    ],
    ids=lambda a: "+".join(a),
)
def test_a_name_that_resolves_to_a_refused_address_is_refused_before_connecting(addresses: list[str]) -> None:
    resolver = FakeResolver({"tracker.example": [addresses]})
    network = LoopbackOnly()

    with (
        egress_client(EgressPolicy(), resolver=resolver, network=network, provider="gitlab") as client,
        pytest.raises(EgressDeniedError) as refused,
    ):
        client.get("https://tracker.example/api/v4/user", headers={"PRIVATE-TOKEN": "fake-token"})

    assert network.connects == []
    assert resolver.calls == [("tracker.example", 443)]
    assert refused.value.code is ErrorCode.EGRESS_DENIED
    assert refused.value.http_status == 422
    assert refused.value.retryable is False
    assert refused.value.provider == "gitlab"
    assert "tracker.example:443" in refused.value.message
    assert "TB_ALLOWED_PRIVATE_NETWORKS" in refused.value.guidance


def test_a_name_the_resolver_cannot_even_encode_is_a_connect_error_not_a_crash() -> None:
    # getaddrinfo raises UnicodeError (not OSError) for a label over 63 characters, before any query
    def resolver(host: str, port: int) -> list[IPAddress]:
        raise UnicodeError("encoding with 'idna' codec failed (UnicodeError: label empty or too long)")

    network = LoopbackOnly()
    with (
        egress_client(EgressPolicy(), resolver=resolver, network=network) as client,
        pytest.raises(httpx.ConnectError, match="cannot resolve"),
    ):
        client.get(f"https://{'a' * 70}.example/api/v4/user")

    assert network.connects == []


def test_an_allowlisted_name_reaches_the_sandbox_at_the_checked_address(gitlab: GitLabSandbox) -> None:
    port = httpx.URL(gitlab.url).port
    assert port is not None
    resolver = FakeResolver({"gitlab.internal": [["127.0.0.1"]]})
    network = LoopbackOnly()
    allowed = EgressPolicy.parse(f"127.0.0.1/32:{port}")
    client = egress_client(allowed, resolver=resolver, network=network)

    with gitlab_adapter(f"http://gitlab.internal:{port}", gitlab, client=client) as adapter:
        report = adapter.test_connection()
    client.close()

    auth = report.check("auth")
    assert auth is not None
    assert auth.ok, auth
    # The socket went to the address that was checked, never to the name (no second lookup to rebind).
    assert network.connects
    assert all(host == "127.0.0.1" for host, _ in network.connects)
    assert {call[0] for call in resolver.calls} == {"gitlab.internal"}


def test_the_allowlist_is_exact_about_the_port(gitlab: GitLabSandbox) -> None:
    port = httpx.URL(gitlab.url).port
    resolver = FakeResolver({"gitlab.internal": [["127.0.0.1"]]})
    gitlab.reset_requests()

    with (
        gitlab_adapter(
            f"http://gitlab.internal:{port}",
            gitlab,
            egress=EgressPolicy.parse(f"127.0.0.1/32:{(port or 0) + 1}"),
            resolver=resolver,
        ) as adapter,
        pytest.raises(EgressDeniedError),
    ):
        adapter.get_json("/user")

    assert gitlab.requests()["total"] == 0


def test_every_new_connection_is_checked_again_so_rebinding_gets_nowhere() -> None:
    # The name answers loopback first, then the metadata address: the second connection is refused.
    resolver = FakeResolver({"tracker.example": [["127.0.0.1"], ["169.254.169.254"]]})
    network = LoopbackOnly()
    with serve("127.0.0.1", {"/ping": Reply(headers={"Connection": "close"})}) as server:
        allowed = EgressPolicy.parse(f"127.0.0.1/32:{server.port}")
        with egress_client(allowed, resolver=resolver, network=network) as client:
            first = client.get(f"http://tracker.example:{server.port}/ping")
            with pytest.raises(EgressDeniedError, match=r"169\.254\.169\.254"):
                client.get(f"http://tracker.example:{server.port}/ping")

    assert first.status_code == 200
    assert network.connects == [("127.0.0.1", server.port)]
    assert [s.headers["Host"] for s in server.requests()] == [f"tracker.example:{server.port}"]


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"])
def test_an_adapter_refuses_a_loopback_base_url_in_any_spelling_by_default(host: str) -> None:
    with serve("127.0.0.1", {"/api/v4/user": Reply(body=b'{"username": "x"}')}) as server:
        adapter = create_adapter(
            "gitlab",
            TrackerConfig(f"http://{host}:{server.port}", {"project": "1"}, CONNECTION_ID),
            {"token": "fake-token"},
            retry=NO_RETRY,
        )
        with adapter, pytest.raises(EgressDeniedError):
            adapter.get_json("/user")
        seen = server.requests()

    assert seen == []


def test_an_adapter_connects_where_its_policy_allows() -> None:
    with serve("127.0.0.1", {"/api/v4/user": Reply(body=b'{"username": "x"}')}) as server:
        with gitlab_adapter_for(server, egress=allowlist_for(server.url)) as adapter:
            assert adapter.get_json("/user") == {"username": "x"}
        assert len(server.requests()) == 1


def gitlab_adapter_for(server: Server, **options: Any) -> TrackerAdapter:
    config = TrackerConfig(server.url, {"project": "1"}, CONNECTION_ID)
    return create_adapter("gitlab", config, {"token": "fake-gitlab-token"}, retry=NO_RETRY, **options)


# ---- redirects: followed on the API's origin only ------------------------------------------------------


@pytest.fixture
def second_origin() -> Iterator[Server]:
    """127.0.0.2: another origin, recording whatever reaches it."""
    with serve("127.0.0.2", {"/api/v4/projects/2": Reply(body=b'{"id": 2}')}) as server:
        yield server


CREDENTIALS = {
    "gitlab": ({"token": "fake-gitlab-token"}, "private-token"),
    "github": ({"token": "fake-github-token"}, "authorization"),
}


@pytest.mark.parametrize("provider", sorted(CREDENTIALS))
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_not_followed_and_names_the_new_location(
    provider: str, status: int, second_origin: Server
) -> None:
    target = f"{second_origin.url}/api/v4/projects/2"
    moved = Reply(status, b"", {"Location": f"{target}?private_token=x#frag"})
    credentials, header = CREDENTIALS[provider]
    with serve("127.0.0.1", {"/api/v4/projects/1": moved, "/repos/o/r": moved}) as first:
        # Both origins allowlisted: only the redirect rule can keep the request off 127.0.0.2.
        policy = allowlist_for(first.url, second_origin.url)
        scope = {"project": "1"} if provider == "gitlab" else {"repo": "o/r"}
        config = TrackerConfig(first.url, scope, CONNECTION_ID)
        with create_adapter(provider, config, credentials, retry=NO_RETRY, egress=policy) as adapter:
            path = "/projects/1" if provider == "gitlab" else "/repos/o/r"
            with pytest.raises(TrackerMovedError) as raised:
                adapter.get_json(path)
        first_seen = first.requests()

    assert second_origin.requests() == []
    assert [s.path for s in first_seen] == [("/api/v4" if provider == "gitlab" else "") + path]
    assert header in {name.lower() for name in first_seen[0].headers}  # the credential went to its origin
    error = raised.value
    assert error.code is ErrorCode.TRACKER_MOVED
    assert error.location == target  # without the query (which may hold a token) or the fragment
    assert target in error.message
    assert error.status == status
    assert error.retryable is False
    assert "base_url" in error.guidance


def test_a_redirect_to_another_port_of_the_same_host_is_another_origin() -> None:
    with serve("127.0.0.1") as other, serve("127.0.0.1") as first:
        first.routes["/api/v4/user"] = Reply(302, b"", {"Location": f"{other.url}/api/v4/user"})
        with (
            gitlab_adapter_for(first, egress=allowlist_for(first.url, other.url)) as adapter,
            pytest.raises(TrackerMovedError),
        ):
            adapter.get_json("/user")
        assert other.requests() == []


def test_a_same_origin_redirect_is_followed_with_the_credentials() -> None:
    # GitHub answers 301 for a transferred issue or a renamed repository, on api.github.com itself.
    with serve("127.0.0.1") as server:
        server.routes["/repos/old/name/issues/7"] = Reply(301, b"", {"Location": "/repositories/42/issues/7"})
        server.routes["/repositories/42/issues/7"] = Reply(body=json.dumps({"number": 7}).encode())
        config = TrackerConfig(server.url, {"repo": "old/name"}, CONNECTION_ID)
        with create_adapter(
            "github", config, {"token": "fake-github-token"}, retry=NO_RETRY, egress=allowlist_for(server.url)
        ) as adapter:
            body = adapter.get_json("/repos/old/name/issues/7")
        seen = server.requests()

    assert body == {"number": 7}
    assert [s.path for s in seen] == ["/repos/old/name/issues/7", "/repositories/42/issues/7"]
    assert all(s.headers.get("Authorization") == "Bearer fake-github-token" for s in seen)


def test_a_redirect_loop_ends() -> None:
    with serve("127.0.0.1") as server:
        server.routes["/api/v4/user"] = Reply(302, b"", {"Location": "/api/v4/user"})
        with (
            gitlab_adapter_for(server, egress=allowlist_for(server.url)) as adapter,
            pytest.raises(MalformedResponseError, match="redirects"),
        ):
            adapter.get_json("/user")
        count = len(server.requests())

    assert count == MAX_REDIRECTS + 1
