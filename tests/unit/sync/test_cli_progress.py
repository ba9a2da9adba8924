"""The CLI's progress bar and summary, from a fake sequence of operation snapshots; ``--json`` against a
small API double (httpx ``MockTransport``) that answers as the REST API does."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from rich.console import Console

from infra.cli import build_parser, main, package_version
from infra.commands import sync as commands
from infra.commands.sync_view import BarModel, ProgressView, stage_words, summary_lines

OP_ID = "op_abcdefghijklmnopqrst"
CONN_ID = "conn_abcdefghijklmnopqrst"


def snapshot(
    status: str,
    stage: str,
    processed: int,
    total: int | None,
    *,
    by_entity: dict[str, dict[str, int]] | None = None,
    resume_at: str | None = None,
) -> dict[str, Any]:
    entities = by_entity or {}
    totals = {c: sum(e.get(c, 0) for e in entities.values()) for c in ("created", "updated", "unchanged")}
    return {
        "id": OP_ID,
        "connection_id": CONN_ID,
        "mode": "full",
        "status": status,
        "progress": {
            "stage": stage,
            "processed": processed,
            "total": total,
            "estimated": True,
            "resume_at": resume_at,
        },
        "results": {**totals, "deleted": 0, "failed": 0, "errors": [], "by_entity": entities},
        "requests": 64,
        "created_at": "2026-01-05T10:00:00Z",
        "started_at": "2026-01-05T10:00:01Z",
        "finished_at": "2026-01-05T10:01:13Z" if status in ("Completed", "Failed", "Cancelled") else None,
        "triggered_by": "api_key:k1",
    }


FINAL_ENTITIES = {
    "issues": {"processed": 1200, "created": 1190, "updated": 10, "unchanged": 0, "deleted": 0, "failed": 0},
    "comments": {"processed": 3600, "created": 3600, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 0},
}
# A full sync as the CLI polls it: queued, an estimate from the last full sync, a rate limit, an estimate
# the API revises downwards (the bar must not follow), the count passing it (the API stops giving one),
# then the end, with fewer items than the largest estimate.
SNAPSHOTS = [
    snapshot("Pending", "queued", 0, None),
    snapshot("InProgress", "starting", 0, 5000),
    snapshot("InProgress", "issues:full", 400, 5000),
    snapshot("InProgress", "waiting_rate_limit", 400, 5000, resume_at="2026-01-05T10:00:31Z"),
    snapshot("InProgress", "issues:catchup", 1200, 4000),
    snapshot("InProgress", "comments:full", 4200, 5000),
    snapshot("InProgress", "comments:full", 5100, None),
    snapshot("InProgress", "comments:sweep", 5100, 5000),
    snapshot("Completed", "completed", 4800, 4800, by_entity=FINAL_ENTITIES),
]


def test_the_bar_never_moves_its_total_backwards_or_sideways() -> None:
    # Given: the bar's model; When: it sees every snapshot in turn
    model = BarModel()
    frames = [model.frame(op) for op in SNAPSHOTS]

    # Then: indeterminate until a total is known, never smaller than before, indeterminate for good once the
    # count passed it, and a full bar at the end that states the real count
    totals = [f.total for f in frames]
    assert totals == [None, 5000, 5000, 5000, 5000, 5000, None, None, 5000]
    assert frames[-1].finished
    assert frames[-1].completed == frames[-1].total
    assert frames[-1].count == "4,800 items"
    assert frames[2].count == "400 of ~5,000"


def test_the_stage_is_said_in_words() -> None:
    words = [stage_words(op) for op in SNAPSHOTS]
    assert words[0] == "waiting to start"
    assert words[2] == "reading all issues"
    assert words[3] == "rate limited until 10:00:31"
    assert words[4] == "catching up on issues"
    assert words[7] == "checking deleted comments"
    assert words[-1] == "completed"
    assert not any(":" in w and not w.startswith("rate") for w in words), words


def test_every_frame_and_the_summary_fit_80_columns() -> None:
    # Given: a recording console of 80 columns
    console = Console(width=80, record=True, color_system=None, force_terminal=False)
    view = ProgressView(console, auto_refresh=False)

    # When: each snapshot is shown and its frame printed, then the summary
    for op in SNAPSHOTS:
        view.show(op)
        console.print(view.renderable())
    for line in summary_lines(SNAPSHOTS[-1]):
        console.print(line, soft_wrap=True)
    text = console.export_text()

    # Then: no line is wider than 80 columns; the words and the per-entity table are there
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert "reading all issues" in text
    assert "checking deleted comments" in text
    assert "issues:" not in text
    table = lines[-4:]
    assert table[0].split() == ["processed", "created", "updated", "unchanged", "deleted", "failed"]
    assert table[1].split() == ["issues", "1,200", "1,190", "10", "0", "0", "0"]
    assert table[2].split() == ["comments", "3,600", "3,600", "0", "0", "0", "0"]
    assert table[3].split() == ["total", "4,800", "4,790", "10", "0", "0", "0"]
    assert f"{OP_ID} Completed (full) in 1 min 12 s, 64 requests" in text


def test_a_summary_of_an_operation_without_per_entity_counters() -> None:
    old = snapshot("Completed", "completed", 3, 3)
    old["results"] = {"created": 2, "updated": 1, "unchanged": 0, "deleted": 1, "failed": 0, "errors": []}
    lines = summary_lines(old)
    assert lines[-1].split() == ["total", "3", "2", "1", "0", "1", "0"]


# ----------------------------------------------------------------------------------------- API double


class ApiDouble:
    """Answers the routes the CLI uses as the REST API does: a connection, its operations, one operation
    that moves through ``SNAPSHOTS`` as it is polled."""

    def __init__(self) -> None:
        self.polls: Iterator[dict[str, Any]] = iter(SNAPSHOTS[1:])
        self.current = SNAPSHOTS[0]
        self.started: list[dict[str, Any]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        connection = {"id": CONN_ID, "name": "github-sandbox", "provider": "github"}
        if method == "GET" and path == "/v1/connections":
            return httpx.Response(200, json={"items": [connection], "next_cursor": None})
        if method == "GET" and path == f"/v1/connections/{CONN_ID}":
            return httpx.Response(200, json=connection)
        if method == "POST" and path == f"/v1/connections/{CONN_ID}/syncs":
            self.started.append(json.loads(request.content))
            return httpx.Response(202, json=self.current)
        if method == "GET" and path == f"/v1/sync-operations/{OP_ID}":
            self.current = next(self.polls, self.current)
            return httpx.Response(200, json=self.current)
        if method == "GET" and path == f"/v1/connections/{CONN_ID}/syncs":
            return httpx.Response(200, json={"items": [self.current], "next_cursor": None})
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": path, "details": {}}})

    def client(self) -> httpx.Client:
        return httpx.Client(base_url="http://api.test", transport=httpx.MockTransport(self.handle))


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_sync_json_prints_the_final_operation_as_the_api_returns_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given: the API double; When: `trackbridge sync github-sandbox --full --wait --json`
    api = ApiDouble()
    code = commands.sync(
        parse("sync", "github-sandbox", "--full", "--wait", "--json"),
        client=api.client(),
        sleep=lambda _s: None,
    )

    # Then: stdout is exactly the last operation object, nothing else
    out = capsys.readouterr().out
    assert code == 0
    assert api.started == [{"mode": "full"}]
    assert json.loads(out) == SNAPSHOTS[-1]


def test_sync_json_without_wait_prints_the_started_operation(capsys: pytest.CaptureFixture[str]) -> None:
    api = ApiDouble()
    assert commands.sync(parse("sync", CONN_ID, "--json"), client=api.client()) == 0
    assert json.loads(capsys.readouterr().out) == SNAPSHOTS[0]


def test_sync_wait_ends_with_the_per_entity_summary(capsys: pytest.CaptureFixture[str]) -> None:
    api = ApiDouble()
    code = commands.sync(
        parse("sync", "github-sandbox", "--wait"), client=api.client(), sleep=lambda _s: None
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"{OP_ID} Completed" in out
    assert "comments" in out
    assert "3,600" in out


@pytest.mark.parametrize("target", [None, "github-sandbox", CONN_ID])
def test_status_json_lists_the_latest_operation_per_connection(
    target: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    api = ApiDouble()
    argv = ["status", *([target] if target else []), "--json"]
    assert commands.status(parse(*argv), client=api.client()) == 0
    assert json.loads(capsys.readouterr().out) == {"items": [SNAPSHOTS[0]]}


def test_status_of_an_operation_prints_it_as_the_api_returns_it(capsys: pytest.CaptureFixture[str]) -> None:
    api = ApiDouble()
    assert commands.status(parse("status", OP_ID, "--json"), client=api.client()) == 0
    assert json.loads(capsys.readouterr().out) == SNAPSHOTS[1]


def test_status_of_an_unknown_connection_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    api = ApiDouble()
    assert commands.status(parse("status", "no-such-connection", "--json"), client=api.client()) == 2
    assert capsys.readouterr().out == ""


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"trackbridge {package_version()}"
    assert package_version() != "unknown"
