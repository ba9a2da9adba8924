"""The terminal of ``trackbridge local up``: one readable line per event, labelled with the function that ran.

On Lambda each function writes Powertools' JSON lines to its own log group. The embedded stack runs every
function in one process, where those lines would all say ``service=trackbridge`` and carry whichever
function's context keys were appended last (Powertools keeps them on one shared formatter). So ``local up``
installs this instead, and only ``local up``: Lambda, the tests and every other command keep Powertools'
JSON.

- :func:`labelled_functions` wraps each handler: records emitted during an invocation know its function key
  (a context variable; the local invoker runs an invocation on the calling thread), and an invocation that
  did not come through the gateway (SQS, EventBridge, Scheduler) logs one ``local.invoke`` line. The
  gateway logs its own ``apigw.request`` line per request, with the function that answered.
- :class:`TerminalFormatter` renders a record as ``HH:MM:SS  label  text key=value ...``; the level is shown
  from WARNING up, a traceback follows its line.
- :func:`install` points the root logger and Powertools' handler at one stream and returns an undo.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, TextIO

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from infra.definition import FUNCTIONS, FunctionSpec
from infra.local.invoke import Handler, import_handler

logger = logging.getLogger(__name__)

# The key of the function whose invocation is running on this thread (None outside invocations).
current_function: ContextVar[str | None] = ContextVar("trackbridge_local_function", default=None)

LABEL_WIDTH = 12
# Attributes every LogRecord has (taskName from 3.12 on included): whatever else a record carries is an extra.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}
# Extras that label the line or only correlate machine logs.
_HIDDEN_EXTRAS = frozenset({"function", "request_id", "correlation_id"})
# Short names of the stack's own loggers (``infra.local.<module>``) where they differ from the module.
_SOURCE_LABELS = {"apigw": "gateway", "up": "local", "stack": "local"}
_POWERTOOLS_LOGGER = "trackbridge"


def _render_request(extras: Mapping[str, Any]) -> str:
    return f"{extras['method']} {extras['path']} -> {extras['status']}  {extras['duration_ms']:.0f} ms"


def _render_invocation(extras: Mapping[str, Any]) -> str:
    return f"{extras['trigger']} -> {extras['outcome']}  {extras['duration_ms']:.0f} ms"


# Events that have a line of their own; any other record is "message key=value ...".
_RENDERERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "apigw.request": _render_request,
    "local.invoke": _render_invocation,
}


def _text_value(value: Any) -> str:
    if isinstance(value, str):
        plain = value and not any(ch.isspace() or ch in "\"'=" for ch in value)
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    return str(value)


class TerminalFormatter(LambdaPowertoolsFormatter):
    """One line per record for a person: time, the function (or part of the stack), the event and its keys.

    A Powertools formatter, so Powertools' ``Logger`` keeps working with it (``append_keys``,
    ``inject_lambda_context``); only the rendering differs. The keys appended to the shared formatter are
    left out: in one process they may belong to another function's invocation. A record's own extras
    and the thread-safe keys are shown.
    """

    def format(self, record: logging.LogRecord) -> str:
        level = f"{record.levelname} " if record.levelno >= logging.WARNING else ""
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{clock}  {self.label(record):<{LABEL_WIDTH}} {level}{self.text(record)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line

    @staticmethod
    def label(record: logging.LogRecord) -> str:
        """The function the record belongs to; else the part of the stack or the thread that logged it."""
        function = record.__dict__.get("function") or current_function.get()
        if function:
            return str(function)
        if record.name.startswith("infra.local."):
            source = record.name.split(".")[2]
            return _SOURCE_LABELS.get(source, source)
        return "local" if record.threadName == "MainThread" else str(record.threadName)

    def text(self, record: logging.LogRecord) -> str:
        extras = {key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRIBUTES}
        extras.update(self.thread_safe_get_current_keys())
        if isinstance(record.msg, str):
            render = _RENDERERS.get(record.msg.split(" ", 1)[0])
            if render is not None:
                try:
                    return render(extras)
                except (KeyError, TypeError, ValueError):
                    pass  # not the shape this event usually has: fall back to the generic line
            message = record.getMessage()
        else:
            message = _text_value(record.msg)
        pairs = " ".join(
            f"{key}={_text_value(value)}"
            for key, value in extras.items()
            if key not in _HIDDEN_EXTRAS and value is not None
        )
        return f"{message}  {pairs}" if pairs else message


# ---------------------------------------------------------------------------------------------- handlers


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_trigger(event: Any) -> str | None:
    """What invoked a function, in a few words; None for the gateway's events (it logs those itself)."""
    if not isinstance(event, Mapping):
        return "invocation"
    if "httpMethod" in event or ("methodArn" in event and "type" in event):
        return None
    records = event.get("Records")
    if isinstance(records, list) and records:
        first = records[0] if isinstance(records[0], Mapping) else {}
        if first.get("eventSource") == "aws:sqs":
            queue = str(first.get("eventSourceARN", "")).rsplit(":", 1)[-1] or "queue"
            return f"SQS {queue} ({_plural(len(records), 'message')})"
        return f"{first.get('eventSource', 'event source')} ({_plural(len(records), 'record')})"
    if "detail-type" in event:
        return f"EventBridge {event['detail-type']}"
    return "invocation"


def describe_outcome(event: Any, result: Any) -> str:
    """``ok``, or how many records of a batch failed (ReportBatchItemFailures), or the status code."""
    if isinstance(result, Mapping):
        failures = result.get("batchItemFailures")
        if isinstance(failures, list) and failures:
            records = event.get("Records") if isinstance(event, Mapping) else None
            total = len(records) if isinstance(records, list) else len(failures)
            return f"{len(failures)} of {total} failed"
        if "statusCode" in result:
            return str(result["statusCode"])
    return "ok"


def labelled(spec: FunctionSpec, *, resolve: Callable[[str], Handler] = import_handler) -> Handler:
    """``spec``'s handler, imported on first call, run with its key as the current function."""
    resolved: list[Handler] = []
    lock = threading.Lock()

    def handler() -> Handler:
        with lock:
            if not resolved:
                resolved.append(resolve(spec.handler))
            return resolved[0]

    def invoke(event: Any, context: Any) -> Any:
        target = handler()
        token = current_function.set(spec.key)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = target(event, context)
            outcome = describe_outcome(event, result)
            return result
        except Exception as exc:
            outcome = f"error ({type(exc).__name__})"
            raise
        finally:
            current_function.reset(token)
            trigger = describe_trigger(event)
            if trigger is not None:
                duration_ms = (time.perf_counter() - started) * 1000
                logger.info(
                    "local.invoke %s: %s -> %s in %.0f ms",
                    spec.key,
                    trigger,
                    outcome,
                    duration_ms,
                    extra={
                        "function": spec.key,
                        "trigger": trigger,
                        "outcome": outcome,
                        "duration_ms": round(duration_ms, 1),
                    },
                )

    invoke.__name__ = invoke.__qualname__ = f"labelled_{spec.key}"
    return invoke


def labelled_functions(specs: Iterable[FunctionSpec] = FUNCTIONS) -> dict[str, Handler]:
    """Every function of the stack, labelled (for ``LocalStack(functions=...)``)."""
    return {spec.key: labelled(spec) for spec in specs}


# ----------------------------------------------------------------------------------------------- install


class _NotPowertools(logging.Filter):
    """The root handler skips ``trackbridge*`` records: Powertools' own handler has written them already."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        return not (name == _POWERTOOLS_LOGGER or name.startswith(_POWERTOOLS_LOGGER + "."))


def install(stream: TextIO | None = None, *, level: int = logging.INFO) -> Callable[[], None]:
    """Send every log record of this process to ``stream`` (stderr by default) as terminal lines.

    Powertools' handler (on the ``trackbridge`` logger) gets a :class:`TerminalFormatter` and the same
    stream; the root logger gets a handler for everything else. Returns a function that undoes both.
    """
    target = stream if stream is not None else sys.stderr
    # Importing it configures Powertools' logger and handler, which are then re-pointed, not replaced.
    from trackbridge.runtime.observability import logger as powertools_logger

    root = logging.getLogger()
    previous_level = root.level
    root_handler = logging.StreamHandler(target)
    root_handler.setFormatter(TerminalFormatter())
    root_handler.addFilter(_NotPowertools())
    root.addHandler(root_handler)
    root.setLevel(level)

    powertools_handler = powertools_logger.registered_handler
    previous_formatter = powertools_handler.formatter
    previous_stream: TextIO | None = None
    powertools_handler.setFormatter(TerminalFormatter())
    if isinstance(powertools_handler, logging.StreamHandler):
        previous_stream = powertools_handler.setStream(target)

    def undo() -> None:
        root.removeHandler(root_handler)
        root.setLevel(previous_level)
        powertools_handler.setFormatter(previous_formatter)
        if previous_stream is not None and isinstance(powertools_handler, logging.StreamHandler):
            powertools_handler.setStream(previous_stream)

    return undo


__all__ = [
    "TerminalFormatter",
    "current_function",
    "describe_outcome",
    "describe_trigger",
    "install",
    "labelled",
    "labelled_functions",
]
