"""How ``trackbridge sync --wait`` and ``trackbridge status`` show an operation: in the user's words.

:class:`BarModel` turns the operation snapshots the CLI polls into what the bar shows, so its rules are
tested without a terminal: the stage in words ("reading all issues", "rate limited until 12:04:31"), an
indeterminate bar until a total is known, and a total that never moves backwards or sideways (the API's
total is an estimate; the bar keeps the largest one it saw, and once the count passes the estimate it
turns indeterminate until the operation ends). :class:`ProgressView` draws the model with rich;
:func:`summary_lines` is the per-entity table printed at the end, never wider than 80 columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Progress, TaskID

WIDTH = 80
FINAL = ("Completed", "Failed", "Cancelled")
COUNTERS = ("processed", "created", "updated", "unchanged", "deleted", "failed")
# What each pass of an entity does, in words (``progress.stage`` is ``{entity}:{pass}``).
_PASSES: Mapping[str, str] = {
    "full": "reading all {entity}",
    "catchup": "catching up on {entity}",
    "incremental": "reading changed {entity}",
    "ids": "looking for deleted {entity}",
    "sweep": "checking deleted {entity}",
    "done": "{entity} done",
}
_STAGES: Mapping[str, str] = {
    "queued": "waiting to start",
    "starting": "starting",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
_DESCRIPTION_WIDTH = 32
_BAR_WIDTH = 18
_COUNT_WIDTH = 16


def _clock_time(text: Any) -> str:
    """``HH:MM:SS`` (UTC) of an ISO timestamp, or the text as it came."""
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).strftime("%H:%M:%S")
    except ValueError:
        return str(text)


def stage_words(op: Mapping[str, Any]) -> str:
    """What the operation is doing, as a person would say it."""
    progress = op.get("progress") or {}
    stage = str(progress.get("stage") or "")
    if op.get("status") in FINAL:
        return str(op["status"]).lower()
    if stage == "waiting_rate_limit":
        return f"rate limited until {_clock_time(progress.get('resume_at'))}"
    if stage == "waiting_retry":
        return f"tracker down, retry at {_clock_time(progress.get('resume_at'))}"
    if stage in _STAGES:
        return _STAGES[stage]
    entity, _, phase = stage.partition(":")
    if phase in _PASSES:
        return _PASSES[phase].format(entity=entity)
    return stage.replace("_", " ").replace(":", ": ") or str(op.get("status") or "").lower()


def _number(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class BarState:
    """One frame of the bar: ``total`` None is an indeterminate bar."""

    description: str
    completed: int
    total: int | None
    count: str
    finished: bool = False


class BarModel:
    """The bar's rules over a sequence of operation snapshots (see the module docstring)."""

    def __init__(self) -> None:
        self.max_total: int | None = None
        # The count went past every total seen: no total is shown again until the operation ends.
        self.outgrown = False

    def frame(self, op: Mapping[str, Any]) -> BarState:
        progress = op.get("progress") or {}
        processed = _number(progress.get("processed"))
        words = stage_words(op)
        if op.get("status") in FINAL:
            # A full bar (never shorter than before) and the real count beside it.
            total = max(self.max_total or 0, processed)
            return BarState(words, total, total, f"{processed:,} items", finished=True)
        reported = progress.get("total")
        if reported is None and self.max_total is not None:
            self.outgrown = True
        elif reported is not None and not self.outgrown:
            self.max_total = max(self.max_total or 0, _number(reported))
        if self.max_total is not None and processed > self.max_total:
            self.outgrown = True
        if self.outgrown or self.max_total is None:
            return BarState(words, processed, None, f"{processed:,} items")
        approx = "~" if progress.get("estimated", True) else ""
        return BarState(words, processed, self.max_total, f"{processed:,} of {approx}{self.max_total:,}")


class ProgressView:
    """A rich progress bar following one operation; a context manager around rich's ``Progress``."""

    def __init__(self, console: Console | None = None, *, auto_refresh: bool = True) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        from rich.table import Column

        self.model = BarModel()
        self.progress: Progress = Progress(
            TextColumn(
                "{task.description}",
                table_column=Column(width=_DESCRIPTION_WIDTH, no_wrap=True, overflow="ellipsis"),
            ),
            BarColumn(bar_width=_BAR_WIDTH),
            TextColumn(
                "{task.fields[count]}",
                justify="right",
                table_column=Column(width=_COUNT_WIDTH, no_wrap=True, overflow="ellipsis"),
            ),
            TimeElapsedColumn(),
            console=console,
            auto_refresh=auto_refresh,
            transient=False,
        )
        self.task: TaskID = self.progress.add_task("waiting to start", total=None, count="")

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def show(self, op: Mapping[str, Any]) -> BarState:
        state = self.model.frame(op)
        self.progress.update(
            self.task,
            description=state.description,
            completed=state.completed,
            total=state.total,
            count=state.count,
        )
        self.progress.refresh()
        return state

    def renderable(self) -> RenderableType:
        return self.progress.get_renderable()


def _duration(op: Mapping[str, Any]) -> str:
    try:
        started = datetime.fromisoformat(str(op["started_at"]).replace("Z", "+00:00"))
        finished = datetime.fromisoformat(str(op["finished_at"]).replace("Z", "+00:00"))
    except (KeyError, TypeError, ValueError):
        return ""
    seconds = max(0, int((finished - started).total_seconds()))
    return f" in {seconds // 60} min {seconds % 60} s" if seconds >= 60 else f" in {seconds} s"


def _row(label: str, counts: Mapping[str, Any]) -> str:
    processed = _number(counts.get("processed"))
    if "processed" not in counts:
        processed = sum(_number(counts.get(c)) for c in ("created", "updated", "unchanged", "failed"))
    values = [processed, *(_number(counts.get(c)) for c in COUNTERS[1:])]
    return f"{label[:10]:<10}" + "".join(f"{v:>{len(c) + 2},}" for v, c in zip(values, COUNTERS, strict=True))


def summary_lines(op: Mapping[str, Any], *, max_errors: int = 5) -> list[str]:
    """The operation in a few lines of at most 80 columns: status, then a counter table per entity."""
    results = op.get("results") or {}
    head = f"{op.get('id')} {op.get('status')} ({op.get('mode')}){_duration(op)}"
    head += f", {op.get('requests', 0)} requests"
    lines = [head[:WIDTH], f"{'':<10}" + "".join(f"  {c}" for c in COUNTERS)]
    by_entity: Mapping[str, Any] = results.get("by_entity") or {}
    lines.extend(_row(entity, counts) for entity, counts in by_entity.items())
    lines.append(_row("total", results))
    errors: Sequence[Mapping[str, Any]] = results.get("errors") or []
    for error in errors[:max_errors]:
        text = f"  {error.get('code')}: {error.get('message')}"
        if error.get("guidance"):
            text += f" -- {error['guidance']}"
        lines.append(text if len(text) <= WIDTH else text[: WIDTH - 3] + "...")
    return lines


__all__ = ["BarModel", "BarState", "ProgressView", "stage_words", "summary_lines"]
