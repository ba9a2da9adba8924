"""Request parameters and issue queries for the GitLab sandbox: Grape's coercions and GitLab's error shapes.

GitLab answers bad input in two shapes. Grape, which parses parameters before any GitLab code runs,
answers ``{"error": "per_page is invalid"}``, ``{"error": "title is missing"}`` or ``{"error": "state does
not have a valid value"}`` (the last from a ``values:`` list); a bad ``updated_after`` gives
``{"error": "updated_after is invalid"}`` on gitlab.com (magit/forge#587 quotes it). Model validation and
lookups answer ``{"message": {"title": ["can't be blank"]}}`` and ``{"message": "404 Project Not Found"}``
(``render_validation_error!``, ``not_found!``). Every helper here raises ``ApiError`` with the exact body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..core import ApiError
from ._state import GitLabState, Issue

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# ------------------------------------------------------------------------------------------ error shapes


def grape_error(status: int, text: str) -> ApiError:
    """Grape's shape: ``error!("...")`` and parameter validation."""
    return ApiError(status, text, body={"error": text})


def api_message(status: int, text: str) -> ApiError:
    """GitLab's ``render_api_error!`` shape: ``{"message": "404 Project Not Found"}``."""
    return ApiError(status, text, body={"message": text})


def validation_error(field: str, problem: str) -> ApiError:
    """An ActiveRecord validation error: ``{"message": {"title": ["can't be blank"]}}``."""
    return ApiError(400, f"{field} {problem}", body={"message": {field: [problem]}})


def invalid(name: str) -> ApiError:
    return grape_error(400, f"{name} is invalid")


def missing(name: str) -> ApiError:
    return grape_error(400, f"{name} is missing")


def bad_value(name: str) -> ApiError:
    return grape_error(400, f"{name} does not have a valid value")


def unauthorized() -> ApiError:
    return api_message(401, "401 Unauthorized")


def parse_time_ms(text: str) -> int:
    """Epoch milliseconds from ISO 8601 (``Z``, an offset or none = UTC; a bare date is midnight UTC)."""
    value = text.strip()
    if not value or " " in value:
        # A ``+05:30`` offset sent without %2B arrives as a space: GitLab answers 400 and so do we.
        raise ValueError(text)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


# --------------------------------------------------------------------------------------------- params


class Params:
    """Request parameters merged as Grape does (query string, then form or JSON body) with its coercions."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return name in self.values

    def string(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool | list | dict):
            raise invalid(name)
        return str(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            raise invalid(name)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            return int(value)
        raise invalid(name)

    def boolean(self, name: str, default: bool | None = None) -> bool | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "t"):
            return True
        if text in ("false", "0", "no", "f"):
            return False
        raise invalid(name)

    def choice(self, name: str, allowed: Sequence[str], default: str) -> str:
        value = self.string(name)
        if value is None or value == "":
            return default
        if value not in allowed:
            raise bad_value(name)
        return value

    def time_ms(self, name: str) -> int | None:
        value = self.string(name)
        if value is None or value == "":
            return None
        try:
            return parse_time_ms(value)
        except (ValueError, OverflowError):
            raise invalid(name) from None

    def date(self, name: str) -> str | None:
        value = self.string(name)
        if value is None or value == "":
            return None
        if not _DATE.match(value):
            raise invalid(name)
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise invalid(name) from None
        return value

    def names(self, name: str) -> list[str] | None:
        """A comma-separated string or an array of strings (labels)."""
        value = self.values.get(name)
        if value is None:
            return None
        items = value if isinstance(value, list) else str(value).split(",")
        if not all(isinstance(item, str | int) and not isinstance(item, bool) for item in items):
            raise invalid(name)
        return list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))

    def integers(self, name: str) -> list[int] | None:
        value = self.values.get(name)
        if value is None:
            return None
        items = value if isinstance(value, list) else str(value).split(",")
        result: list[int] = []
        for item in items:
            if isinstance(item, bool):
                raise invalid(name)
            if isinstance(item, str) and not item.strip():
                continue
            try:
                result.append(int(item))
            except (TypeError, ValueError):
                raise invalid(name) from None
        return result


@dataclass(frozen=True, slots=True)
class IssueQuery:
    """One issue listing's filters and order: hashable, so a walk's pages share one computed view."""

    state: str = "all"
    order_by: str = "created_at"
    descending: bool = True
    labels: tuple[str, ...] = ()
    labels_mode: str = ""  # "none" | "any" | ""
    milestone: str | None = None
    author: str | None = None
    assignee: str | None = None  # a username, "none" or "any"
    iids: tuple[int, ...] = ()
    search: str | None = None
    search_in: tuple[str, ...] = ("title", "description")
    created_after: int | None = None
    created_before: int | None = None
    updated_after: int | None = None
    updated_before: int | None = None
    confidential: bool | None = None
    scope: str = "all"
    actor: str = ""

    @property
    def filtered(self) -> bool:
        """Anything beyond state and the updated window (what the indexes answer directly)."""
        return bool(
            self.labels
            or self.labels_mode
            or self.milestone is not None
            or self.author is not None
            or self.assignee is not None
            or self.iids
            or self.search is not None
            or self.created_after is not None
            or self.created_before is not None
            or self.confidential is not None
            or self.scope != "all"
        )

    def matches(self, issue: Issue, state: GitLabState) -> bool:
        if self.state != "all" and issue.state != self.state:
            return False
        if self.scope == "created_by_me" and issue.author != self.actor:
            return False
        if self.scope == "assigned_to_me" and self.actor not in issue.assignees:
            return False
        if self.labels and not set(self.labels).issubset(issue.labels):
            return False
        if self.labels_mode == "none" and issue.labels:
            return False
        if self.labels_mode == "any" and not issue.labels:
            return False
        if self.milestone is not None:
            milestone = state.milestones.get(issue.milestone_id) if issue.milestone_id is not None else None
            if self.milestone == "none" and milestone is not None:
                return False
            if self.milestone == "any" and milestone is None:
                return False
            if self.milestone not in ("none", "any") and (
                milestone is None or milestone.title != self.milestone
            ):
                return False
        if self.author is not None and issue.author != self.author:
            return False
        if self.assignee == "none" and issue.assignees:
            return False
        if self.assignee == "any" and not issue.assignees:
            return False
        if self.assignee not in (None, "none", "any") and self.assignee not in issue.assignees:
            return False
        if self.iids and issue.iid not in self.iids:
            return False
        if self.search is not None:
            needle = self.search.lower()
            haystack = []
            if "title" in self.search_in:
                haystack.append(issue.title)
            if "description" in self.search_in:
                haystack.append(issue.description or "")
            if not any(needle in text.lower() for text in haystack):
                return False
        if self.created_after is not None and issue.created_at < self.created_after:
            return False
        if self.created_before is not None and issue.created_at > self.created_before:
            return False
        if self.updated_after is not None and issue.updated_at < self.updated_after:
            return False
        if self.updated_before is not None and issue.updated_at > self.updated_before:
            return False
        return self.confidential is None or issue.confidential == self.confidential


def sort_key(order_by: str) -> Callable[[Issue], tuple[Any, ...]]:
    if order_by == "created_at":
        return lambda issue: (issue.created_at, issue.iid)
    if order_by == "updated_at":
        return lambda issue: (issue.updated_at, issue.iid)
    if order_by == "title":
        return lambda issue: (issue.title, issue.iid)
    if order_by == "popularity":
        return lambda issue: (issue.upvotes, issue.iid)
    return lambda issue: (issue.iid,)  # id, relative_position and (never set here) weight


def ordered_iids(state: GitLabState, query: IssueQuery) -> list[int]:
    issues = [issue for issue in state.issues if issue is not None and query.matches(issue, state)]
    if query.order_by == "due_date":
        # GitLab sorts issues without a due date last in both directions.
        dated = sorted((i for i in issues if i.due_date), key=lambda i: (i.due_date or "", i.iid))
        undated = [i for i in issues if not i.due_date]
        if query.descending:
            dated.reverse()
            undated.reverse()
        return [issue.iid for issue in dated + undated]
    issues.sort(key=sort_key(query.order_by), reverse=query.descending)
    return [issue.iid for issue in issues]


def first_after(
    keys: Sequence[int], key_of: Callable[[int], tuple[Any, ...]], cursor: tuple[Any, ...], desc: bool
) -> int:
    """Index of the first key strictly after ``cursor`` in a list ordered by ``key_of`` (keyset seek)."""
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        value = key_of(keys[mid])
        past = value < cursor if desc else value > cursor
        if past:
            hi = mid
        else:
            lo = mid + 1
    return lo
