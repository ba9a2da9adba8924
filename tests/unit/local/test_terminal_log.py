"""The terminal of `trackbridge local up`: one readable line per request and per function run, labelled.

Given log records as the gateway, the stack and the functions emit them, when the terminal formatter
renders them, then each is one line with the function that ran; `install` re-points Powertools' handler
only until undone, so Lambda's JSON logging is what every other process (and this one after) keeps.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from infra.definition import FUNCTIONS, FunctionSpec
from infra.local import terminal_log
from infra.local.terminal_log import TerminalFormatter, current_function, describe_trigger, labelled

LINE = re.compile(r"^\d\d:\d\d:\d\d  (?P<label>\S+) +(?P<text>.*)$")


def record(
    message: str,
    *args: Any,
    name: str = "trackbridge",
    level: int = logging.INFO,
    exc_info: Any = None,
    **extras: Any,
) -> logging.LogRecord:
    made = logging.getLogger(name).makeRecord(name, level, "x.py", 1, message, args, exc_info, extra=extras)
    return made


def rendered(made: logging.LogRecord) -> tuple[str, str]:
    match = LINE.match(TerminalFormatter().format(made).splitlines()[0])
    assert match, TerminalFormatter().format(made)
    return match["label"], match["text"]


def sqs_event(count: int, queue: str = "trackbridge-local-sync") -> dict[str, Any]:
    arn = f"arn:aws:sqs:us-east-1:123456789012:{queue}"
    return {
        "Records": [
            {"messageId": f"m{i}", "eventSource": "aws:sqs", "eventSourceARN": arn, "body": "{}"}
            for i in range(count)
        ]
    }


# ------------------------------------------------------------------------------------------- formatter


def test_an_api_request_is_one_line_with_method_path_status_time_and_function() -> None:
    made = record(
        "apigw.request %s %s -> %s in %.0f ms (%s)",
        "GET",
        "/v1/connections",
        200,
        12.4,
        "api",
        name="infra.local.apigw",
        method="GET",
        path="/v1/connections",
        status=200,
        duration_ms=12.4,
        function="api",
        request_id="5f0c",
    )

    assert rendered(made) == ("api", "GET /v1/connections -> 200  12 ms")


def test_a_request_the_gateway_answered_itself_is_labelled_gateway() -> None:
    made = record(
        "apigw.request",
        name="infra.local.apigw",
        method="GET",
        path="/v1/nowhere",
        status=404,
        duration_ms=0.3,
        function=None,
    )

    assert rendered(made) == ("gateway", "GET /v1/nowhere -> 404  0 ms")


def test_a_function_run_is_one_line_with_trigger_outcome_and_time() -> None:
    made = record(
        "local.invoke",
        name="infra.local.terminal_log",
        function="sync",
        trigger="SQS trackbridge-local-sync (1 message)",
        outcome="ok",
        duration_ms=1503.2,
    )

    assert rendered(made) == ("sync", "SQS trackbridge-local-sync (1 message) -> ok  1503 ms")


def test_a_runtime_event_is_labelled_with_the_function_running_on_its_thread() -> None:
    made = record(
        "sync.completed", operation_id="op_1", results={"created": 3, "failed": 0}, note="two words"
    )
    token = current_function.set("sync")
    try:
        label, text = rendered(made)
    finally:
        current_function.reset(token)

    assert label == "sync"
    assert text == 'sync.completed  operation_id=op_1 results={"created":3,"failed":0} note="two words"'


def test_outside_any_function_the_label_is_the_part_of_the_stack_or_the_thread() -> None:
    assert rendered(record("scheduler.tick_failed", name="infra.local.scheduler"))[0] == "scheduler"
    assert rendered(record("local.started", name="infra.local.stack"))[0] == "local"
    worker = record("sync.page")
    worker.threadName = "sync-writer_0"
    assert rendered(worker)[0] == "sync-writer_0"


def test_correlation_keys_are_left_out_and_none_values_skipped() -> None:
    made = record(
        "webhook.accepted", request_id="r-1", correlation_id="c-1", delivery=None, provider="github"
    )

    assert rendered(made)[1] == "webhook.accepted  provider=github"


def test_warnings_show_their_level_and_exceptions_their_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        made = record(
            "poller.batch_failed",
            name="infra.local.pollers",
            level=logging.ERROR,
            exc_info=(type(exc), exc, exc.__traceback__),
            queue="sync",
        )

    lines = TerminalFormatter().format(made).splitlines()

    assert LINE.match(lines[0])
    assert lines[0].endswith("pollers      ERROR poller.batch_failed  queue=sync")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"


def test_a_record_without_the_usual_fields_falls_back_to_the_generic_line() -> None:
    made = record("apigw.request %s", "GET", name="infra.local.apigw")

    assert rendered(made) == ("gateway", "apigw.request GET")


def test_a_powertools_logger_keeps_working_with_the_terminal_formatter() -> None:
    # inject_lambda_context appends keys to the shared formatter: they belong to whichever function ran
    # last, so the terminal leaves them out instead of mislabelling a line.
    formatter = TerminalFormatter()
    formatter.append_keys(function_name="trackbridge-local-api", cold_start=True)
    formatter.clear_state()

    text = formatter.format(record("api_keys.created", tenant="demo"))

    assert text.endswith("api_keys.created  tenant=demo")


# ----------------------------------------------------------------------------------------------- handlers


def spec(key: str = "sync") -> FunctionSpec:
    return next(s for s in FUNCTIONS if s.key == key)


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def invocations() -> Iterator[list[logging.LogRecord]]:
    recorder = Recorder()
    terminal_log.logger.addHandler(recorder)
    level = terminal_log.logger.level
    terminal_log.logger.setLevel(logging.INFO)
    try:
        yield recorder.records
    finally:
        terminal_log.logger.removeHandler(recorder)
        terminal_log.logger.setLevel(level)


def test_a_labelled_handler_runs_under_its_key_and_logs_one_line_per_queue_batch(
    invocations: list[logging.LogRecord],
) -> None:
    seen: list[str | None] = []

    def handler(event: Any, context: Any) -> Any:
        seen.append(current_function.get())
        return {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    resolved: list[str] = []
    wrapped = labelled(spec("sync"), resolve=lambda path: resolved.append(path) or handler)

    wrapped(sqs_event(2), None)
    wrapped(sqs_event(1), None)

    assert seen == ["sync", "sync"]
    assert current_function.get() is None
    assert resolved == ["functions.sync.handler"]  # imported once, on first use
    assert [r.__dict__["function"] for r in invocations] == ["sync", "sync"]
    assert invocations[0].__dict__["trigger"] == "SQS trackbridge-local-sync (2 messages)"
    assert invocations[0].__dict__["outcome"] == "1 of 2 failed"
    assert invocations[1].__dict__["trigger"] == "SQS trackbridge-local-sync (1 message)"


def test_a_failing_handler_is_logged_as_an_error_and_still_raises(
    invocations: list[logging.LogRecord],
) -> None:
    def handler(event: Any, context: Any) -> Any:
        raise ValueError("bad batch")

    wrapped = labelled(spec("apply"), resolve=lambda path: handler)

    with pytest.raises(ValueError, match="bad batch"):
        wrapped(sqs_event(1, "trackbridge-local-inbound.fifo"), None)

    assert [r.__dict__["outcome"] for r in invocations] == ["error (ValueError)"]
    assert current_function.get() is None


def test_the_gateways_invocations_get_no_line_of_their_own(invocations: list[logging.LogRecord]) -> None:
    wrapped = labelled(spec("api"), resolve=lambda path: lambda event, context: {"statusCode": 200})

    wrapped({"httpMethod": "GET", "path": "/v1/health"}, None)
    wrapped({"type": "TOKEN", "authorizationToken": "x", "methodArn": "arn"}, None)

    assert invocations == []


@pytest.mark.parametrize(
    ("event", "trigger"),
    [
        ({"source": "aws.events", "detail-type": "Scheduled Event"}, "EventBridge Scheduled Event"),
        ({"connection_id": "conn_1"}, "invocation"),
        ("plain", "invocation"),
    ],
)
def test_other_triggers_are_described(event: Any, trigger: str) -> None:
    assert describe_trigger(event) == trigger


def test_every_function_of_the_stack_is_labelled() -> None:
    handlers = terminal_log.labelled_functions()

    assert set(handlers) == {s.key for s in FUNCTIONS}
    assert handlers["sync"].__name__ == "labelled_sync"


# ------------------------------------------------------------------------------------------------ install


def test_install_renders_powertools_lines_for_the_terminal_and_undo_restores_lambdas_json() -> None:
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from trackbridge.runtime.observability import logger

    stream = io.StringIO()
    undo = terminal_log.install(stream)
    try:
        token = current_function.set("webhook")
        try:
            logger.info("webhook.accepted", extra={"provider": "github"})
        finally:
            current_function.reset(token)
        logging.getLogger("infra.local.scheduler").warning("scheduler.unknown_function %s", "x")
    finally:
        undo()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert LINE.match(lines[0])
    assert lines[0].endswith("webhook      webhook.accepted  provider=github")
    assert lines[1].endswith("scheduler    WARNING scheduler.unknown_function x")
    # Undone: Powertools' JSON formatter is back, and nothing more reaches the terminal's stream.
    formatter = logger.registered_handler.formatter
    assert type(formatter) is LambdaPowertoolsFormatter
    line = json.loads(formatter.format(record("connections.created", connection_id="conn_1")))
    assert line["message"] == "connections.created"
    assert line["service"] == "trackbridge"
    assert line["connection_id"] == "conn_1"
    logger.info("after.undo")
    assert len(stream.getvalue().splitlines()) == 2
