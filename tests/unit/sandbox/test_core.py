"""The sandbox core without sockets: a minimal provider driven through werkzeug's test client.

``TinyTracker`` is also the smallest complete example of a provider on the core: state, auth, error shape,
rate-limit headers, webhooks, one route and one mutation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.test import Client

from infra.local.trackers.core import (
    ApiError,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    SandboxTracker,
    Sizes,
    WebhookRequest,
    mutation,
    route,
)


@dataclass
class TinyState:
    titles: list[str] = field(default_factory=list)


class TinyTracker(SandboxTracker[TinyState]):
    kind = "tiny"
    default_rate_limit = 3

    def build_state(self, sizes: Sizes, rng: random.Random) -> TinyState:
        return TinyState([f"item {rng.randrange(1000)}" for _ in range(sizes.issues)])

    def authenticate(self, request: SandboxRequest) -> Principal:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "who are you")
        return Principal(key="one", login="me")

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        return Reply({"error": error.message}, error.status, dict(error.headers))

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        return {"Left": str(bucket.remaining)}

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        return ApiError(429, "slow down", headers={"Retry-After": "1"})

    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        return []

    def issue_counts(self) -> tuple[int, int, int]:
        return len(self.state.titles), len(self.state.titles), 0

    def read_with_client_library(self) -> None:
        # Its "client library" is werkzeug's test client: one request per item.
        reader = Client(self)
        for index in range(len(self.state.titles)):
            reader.get(f"/items/{index}", headers={"Authorization": f"Bearer {self.token}"})

    @route("GET", "/items/{index:int}")
    def get_item(self, request: SandboxRequest, index: int) -> Reply:
        if not 0 <= index < len(self.state.titles):
            raise ApiError(404, "no such item")
        return Reply({"title": self.state.titles[index]})

    @route("POST", "/items", conditional=False)
    def add_item(self, request: SandboxRequest) -> Reply:
        body = self.read_json(request)
        self.state.titles.append(str(body["title"]))
        self.touch()
        return Reply({"index": len(self.state.titles) - 1}, 201)

    @mutation("rename")
    def rename(self, index: int, title: str) -> dict[str, Any]:
        self.state.titles[index] = title
        self.touch()
        return {"index": index}


@pytest.fixture
def tiny() -> TinyTracker:
    return TinyTracker(seed="unit", issues=5)


@pytest.fixture
def client(tiny: TinyTracker) -> Client:
    return Client(tiny)


def auth(tiny: TinyTracker) -> dict[str, str]:
    return {"Authorization": f"Bearer {tiny.token}"}


def test_routes_are_collected_with_templates_and_keys() -> None:
    assert {spec.key for spec in TinyTracker.routes} == {"GET /items/{index}", "POST /items"}
    assert TinyTracker.mutations == {"rename": "rename"}


def test_seeding_is_deterministic_per_seed() -> None:
    assert TinyTracker(seed="a", issues=20).state == TinyTracker(seed="a", issues=20).state
    assert TinyTracker(seed="a", issues=20).state != TinyTracker(seed="b", issues=20).state


def test_pipeline_counts_by_template_and_renders_provider_errors(tiny: TinyTracker, client: Client) -> None:
    assert client.get("/items/1", headers=auth(tiny)).status_code == 200
    missing = client.get("/items/99", headers=auth(tiny))
    unknown = client.get("/nowhere", headers=auth(tiny))
    wrong_method = client.delete("/items/1", headers=auth(tiny))
    no_auth = client.get("/items/1")

    assert missing.json == {"error": "no such item"}
    assert unknown.status_code == 404
    assert wrong_method.status_code == 405  # the core's default; GitHub overrides it to 404
    assert no_auth.status_code == 401
    assert no_auth.json == {"error": "who are you"}
    counters = tiny.requests()
    assert counters["by_route"] == {"GET /items/{index}": 3, "GET <unmatched>": 1, "DELETE <unmatched>": 1}
    assert counters["total"] == 5


def test_etag_304_is_counted_and_not_charged(tiny: TinyTracker, client: Client) -> None:
    first = client.get("/items/0", headers=auth(tiny))
    again = client.get("/items/0", headers={**auth(tiny), "If-None-Match": first.headers["ETag"]})

    assert again.status_code == 304
    assert again.data == b""
    assert first.headers["Left"] == again.headers["Left"] == "2"
    assert tiny.requests()["not_modified"] == 1


def test_rate_limit_uses_the_providers_error(tiny: TinyTracker, client: Client) -> None:
    statuses = [client.get("/items/0", headers=auth(tiny)).status_code for _ in range(4)]
    limited = client.get("/items/0", headers=auth(tiny))

    assert statuses == [200, 200, 200, 429]
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["Left"] == "0"


def test_bad_json_uses_the_providers_message(tiny: TinyTracker, client: Client) -> None:
    response = client.post("/items", data=b"{nope", headers=auth(tiny))

    assert response.status_code == 400
    assert response.json == {"error": "Problems parsing JSON"}


def test_handler_crash_is_a_500_in_the_providers_shape(tiny: TinyTracker, client: Client) -> None:
    response = client.post("/items", json={"no": "title"}, headers=auth(tiny))  # KeyError inside the handler

    assert response.status_code == 500
    assert "error" in response.json


def test_control_api(tiny: TinyTracker, client: Client) -> None:
    client.get("/items/0", headers=auth(tiny))

    assert client.get("/_sandbox/requests").json["total"] == 1
    assert client.post("/_sandbox/requests/reset").json["total"] == 0
    reset = client.post("/_sandbox/reset", json={"seed": "other", "issues": 2})
    assert reset.json["sizes"]["issues"] == 2
    assert len(tiny.state.titles) == 2
    assert client.post("/_sandbox/reset", json={"issues": -1}).status_code == 400
    assert client.post("/_sandbox/reset", json={"flavour": "x"}).status_code == 400
    assert client.post("/_sandbox/mutate", json={"action": "rename", "index": 0, "title": "z"}).json == {
        "index": 0
    }
    assert tiny.state.titles[0] == "z"
    assert client.post("/_sandbox/mutate", json={"action": "explode"}).status_code == 400
    assert client.post("/_sandbox/mutate", data=b"[").status_code == 400
    assert client.get("/_sandbox/nothing").status_code == 404
    assert client.get("/_sandbox/requests").json["total"] == 0  # control routes are never counted


def test_fault_status_and_malformed_body(tiny: TinyTracker, client: Client) -> None:
    tiny.add_faults([{"route": "GET /items/{index}", "status": 503, "times": 1}])
    tiny.add_faults([{"route": "/items/*", "malformed_body": True, "times": 1}])

    failed = client.get("/items/0", headers=auth(tiny))
    truncated = client.get("/items/0", headers=auth(tiny))
    normal = client.get("/items/0", headers=auth(tiny))

    assert failed.status_code == 503
    assert failed.json == {"error": "Service Unavailable"}
    assert truncated.status_code == 200
    assert truncated.data == normal.data[: len(normal.data) // 2]
    assert tiny.faults() == []  # both rules expired


def test_view_cache_recomputes_after_a_write(tiny: TinyTracker) -> None:
    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(tiny.version)
        return [tiny.version]

    assert tiny.view("q", compute) == tiny.view("q", compute)
    tiny.mutate("rename", index=0, title="changed")
    tiny.view("q", compute)

    assert len(calls) == 2


def test_describe_has_fake_credentials(tiny: TinyTracker) -> None:
    described = tiny.describe()

    assert described["token"] == "sandbox-tiny-token-unit"
    assert described["webhook_secret"] == "sandbox-tiny-webhook-secret-unit"
    assert described["url"].startswith("http://")


def test_a_sandbox_declares_its_counts_and_its_naive_reader(tiny: TinyTracker) -> None:
    # Both are abstract: a sandbox without them cannot be built, so the benchmarks never meet a gap.
    class Unfinished(SandboxTracker[TinyState]):
        kind = "unfinished"

    with pytest.raises(TypeError, match="issue_counts"):
        Unfinished(seed="unit", issues=1)  # type: ignore[abstract]
    assert tiny.issue_counts() == (5, 5, 0)
    tiny.read_with_client_library()
    assert tiny.requests()["by_route"] == {"GET /items/{index}": 5}
