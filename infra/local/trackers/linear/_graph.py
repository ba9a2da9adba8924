"""The Linear sandbox's resolvers: filters, Relay pagination, rendering, and the mutations' effects.

graphql-core's default resolver reads a dict key and calls it when it is callable (``value(info, **args)``),
so records render as dicts whose connection fields (``labels``, ``comments``, ``states``) are closures.
Lookups that fail raise :func:`user_error` in Linear's shape: ``Entity not found: Issue`` with
``extensions.code`` ``INPUT_ERROR`` (``type`` ``invalid input``, ``userError``), which the sandbox answers on
a 400 when no data came back.

Pagination is keyset over the listing's order (``createdAt`` by default, or ``updatedAt``), with the cursor
naming the last item's sort key: an item updated while a client pages moves behind the cursor and is met
again on a later page, never skipped, as Linear's cursors behave for update-ordered syncs.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError

from .._clock import iso_z, parse_iso
from .._webhooks import is_loopback_url
from ._state import PRIORITY_LABELS, TEAM_KEY, TEAM_NAME, Comment, Hook, Issue, Label, LinearState, new_id

if TYPE_CHECKING:
    from .sandbox import LinearSandbox

DEFAULT_PAGE = 50
MAX_PAGE = 250


def user_error(message: str, *, code: str = "INPUT_ERROR", presentable: str | None = None) -> GraphQLError:
    """An error as Linear words a bad argument or a missing entity."""
    return GraphQLError(
        message,
        extensions={
            "type": "invalid input",
            "code": code,
            "statusCode": 400,
            "userError": True,
            "userPresentableMessage": presentable or message,
        },
    )


def not_found(entity: str) -> GraphQLError:
    return user_error(f"Entity not found: {entity}", presentable=f"Could not find referenced {entity}.")


def iso_ms(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return iso_z(seconds)[:-1] + f".{millis:03d}Z"


def parse_ms(value: Any) -> int:
    """A ``DateTimeOrDuration`` as epoch ms; durations (``-P1D``) are not served here: a 400 says so."""
    if not isinstance(value, str):
        raise user_error("Argument Validation Error: invalid date")
    text = value.strip()
    try:
        if "." in text:
            head, _, tail = text.partition(".")
            digits = "".join(ch for ch in tail if ch.isdigit())
            zone = tail[len(digits) :]
            return parse_iso(head + zone) * 1000 + int((digits + "000")[:3])
        return parse_iso(text) * 1000
    except ValueError:
        raise user_error(f"Argument Validation Error: {value!r} is not a date") from None


# ---- comparators (the subset of Linear's filter language the schema admits) -----------------------------
def _string(value: str | None, cond: Mapping[str, Any]) -> bool:
    text = value or ""
    checks: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: text == v,
        "neq": lambda v: text != v,
        "in": lambda v: text in v,
        "nin": lambda v: text not in v,
        "contains": lambda v: v in text,
        "containsIgnoreCase": lambda v: v.lower() in text.lower(),
        "startsWith": lambda v: text.startswith(v),
    }
    return all(checks[op](arg) for op, arg in cond.items() if arg is not None)


def _number(value: float, cond: Mapping[str, Any]) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: value == v,
        "gt": lambda v: value > v,
        "gte": lambda v: value >= v,
        "lt": lambda v: value < v,
        "lte": lambda v: value <= v,
        "in": lambda v: value in v,
    }
    return all(checks[op](arg) for op, arg in cond.items() if arg is not None)


def _date(ms: int, cond: Mapping[str, Any]) -> bool:
    return _number(ms, {op: parse_ms(arg) for op, arg in cond.items() if arg is not None})


class Graph:
    """The root value of every operation: ``Query`` and ``Mutation`` fields are its methods."""

    def __init__(self, sandbox: LinearSandbox) -> None:
        self.sandbox = sandbox
        self.state: LinearState = sandbox.state

    # ---- rendering ------------------------------------------------------------------------------------
    def person(self, person_id: str | None) -> dict[str, Any] | None:
        for person in (self.state.bot, *self.state.people):
            if person.id == person_id:
                return {
                    "id": person.id,
                    "name": person.name,
                    "displayName": person.display_name,
                    "email": person.email,
                    "active": True,
                }
        return None

    def team(self) -> dict[str, Any]:
        states = sorted(self.state.states.values(), key=lambda s: s.position)
        return {
            "id": self.state.team_id,
            "key": TEAM_KEY,
            "name": TEAM_NAME,
            "states": lambda info, **args: connection([vars_of(s) for s in states], args),
            "members": lambda info, **args: connection(
                [self.person(p.id) for p in (self.state.bot, *self.state.people)], args
            ),
        }

    def issue(self, info: Any, id: str) -> dict[str, Any]:
        issue = self.state.issue_by_id(id)
        if issue is None:
            raise not_found("Issue")
        return self.render_issue(issue)

    def render_issue(self, issue: Issue) -> dict[str, Any]:
        state = self.state.states[issue.state_id]
        labels = [vars_of(self.state.labels[i]) for i in issue.label_ids if i in self.state.labels]
        identifier = f"{TEAM_KEY}-{issue.number}"
        return {
            "id": issue.id,
            "identifier": identifier,
            "number": issue.number,
            "title": issue.title,
            "description": issue.description,
            "priority": issue.priority,
            "priorityLabel": PRIORITY_LABELS[issue.priority],
            "url": f"{self.sandbox.app_url}/issue/{identifier}",
            "createdAt": iso_ms(issue.created_ms),
            "updatedAt": iso_ms(issue.updated_ms),
            "state": vars_of(state),
            "assignee": self.person(issue.assignee_id),
            "creator": self.person(issue.creator_id),
            "team": self.team(),
            "labels": lambda info, **args: connection(labels, args),
            "comments": lambda info, **args: self._issue_comments(issue.number, args),
        }

    def _issue_comments(self, number: int, args: Mapping[str, Any]) -> dict[str, Any]:
        comments = [self.state.comments[c] for c in self.state.comments_by_issue.get(number, [])]
        return self._keyset(comments, args, "comments")

    def render_comment(self, comment: Comment) -> dict[str, Any]:
        issue = self.state.issues.get(comment.issue_number)
        return {
            "id": comment.id,
            "body": comment.body,
            "url": f"{self.sandbox.app_url}/issue/{TEAM_KEY}-{comment.issue_number}#comment-{comment.id[:8]}",
            "createdAt": iso_ms(comment.created_ms),
            "updatedAt": iso_ms(comment.updated_ms),
            "user": self.person(comment.user_id),
            "issue": self.render_issue(issue) if issue else None,
            "issueId": issue.id if issue else None,
        }

    # ---- queries --------------------------------------------------------------------------------------
    def viewer(self, info: Any) -> dict[str, Any] | None:
        return self.person(self.state.bot.id)

    def teams(self, info: Any, **args: Any) -> dict[str, Any]:
        team = self.team()
        shown = [team] if self.team_matches(args.get("filter")) else []
        return connection(shown, args)

    def team_matches(self, cond: Mapping[str, Any] | None) -> bool:
        if not cond:
            return True
        return (
            _string(self.state.team_id, cond.get("id") or {})
            and _string(TEAM_KEY, cond.get("key") or {})
            and _string(TEAM_NAME, cond.get("name") or {})
        )

    def issueLabels(self, info: Any, **args: Any) -> dict[str, Any]:
        cond = args.get("filter") or {}
        labels = [
            vars_of(label)
            for label in self.state.labels.values()
            if _string(label.id, cond.get("id") or {}) and _string(label.name, cond.get("name") or {})
        ]
        return connection(labels, args)

    def issues(self, info: Any, **args: Any) -> dict[str, Any]:
        cond = args.get("filter") or {}
        matching = [i for i in self.state.issues.values() if self.issue_matches(i, cond)]
        return self._keyset(matching, args, "issues")

    def issue_matches(self, issue: Issue, cond: Mapping[str, Any]) -> bool:
        state = self.state.states[issue.state_id]
        for key, value in cond.items():
            if value is None:
                continue
            if key == "and" and not all(self.issue_matches(issue, c) for c in value):
                return False
            if key == "or" and not any(self.issue_matches(issue, c) for c in value):
                return False
            if key == "team" and not self.team_matches(value):
                return False
            if key == "state" and not (
                _string(state.id, value.get("id") or {})
                and _string(state.name, value.get("name") or {})
                and _string(state.type, value.get("type") or {})
            ):
                return False
            checks = {
                "id": lambda v: _string(issue.id, v),
                "number": lambda v: _number(issue.number, v),
                "title": lambda v: _string(issue.title, v),
                "createdAt": lambda v: _date(issue.created_ms, v),
                "updatedAt": lambda v: _date(issue.updated_ms, v),
                "searchableContent": lambda v: self._content_matches(issue, v),
            }
            if key in checks and not checks[key](value):
                return False
        return True

    def _content_matches(self, issue: Issue, cond: Mapping[str, Any]) -> bool:
        text = " ".join([issue.title, issue.description or ""]).lower()
        if cond.get("contains") is not None and cond["contains"].lower() not in text:
            return False
        return not (cond.get("notContains") and cond["notContains"].lower() in text)

    def comment(self, info: Any, id: str | None = None, hash: str | None = None) -> dict[str, Any]:
        comment = self.state.comments.get(id or "")
        if comment is None:
            raise not_found("Comment")
        return self.render_comment(comment)

    def comments(self, info: Any, **args: Any) -> dict[str, Any]:
        cond = args.get("filter") or {}
        matching = [c for c in self.state.comments.values() if self.comment_matches(c, cond)]
        return self._keyset(matching, args, "comments")

    def comment_matches(self, comment: Comment, cond: Mapping[str, Any]) -> bool:
        for key, value in cond.items():
            if value is None:
                continue
            if key == "and" and not all(self.comment_matches(comment, c) for c in value):
                return False
            if key == "or" and not any(self.comment_matches(comment, c) for c in value):
                return False
            if key == "issue":
                issue = self.state.issues.get(comment.issue_number)
                if issue is None or not self.issue_matches(issue, value):
                    return False
            if key == "id" and not _string(comment.id, value):
                return False
            if key == "createdAt" and not _date(comment.created_ms, value):
                return False
            if key == "updatedAt" and not _date(comment.updated_ms, value):
                return False
        return True

    def _keyset(self, items: Sequence[Issue | Comment], args: Mapping[str, Any], what: str) -> dict[str, Any]:
        """One Relay page of ``items`` in the asked order, after the cursor's sort key."""
        first = args.get("first")
        size = DEFAULT_PAGE if first is None else first
        if not 0 <= size <= MAX_PAGE:
            raise user_error(f"Argument Validation Error: first must be between 0 and {MAX_PAGE}")
        by_update = args.get("orderBy") == "updatedAt"
        keys = sorted(((i.updated_ms if by_update else i.created_ms), i.id) for i in items)
        start = 0
        if args.get("after"):
            start = bisect.bisect_right(keys, decode_cursor(args["after"]))
        window = keys[start : start + size]
        by_id = {i.id: i for i in items}
        render = self.render_issue if what == "issues" else self.render_comment
        nodes = [render(by_id[item_id]) for _, item_id in window]  # type: ignore[arg-type]
        has_next = start + size < len(keys)
        return {
            "nodes": nodes,
            "pageInfo": {
                "hasNextPage": has_next,
                "hasPreviousPage": start > 0,
                "startCursor": encode_cursor(window[0]) if window else None,
                "endCursor": encode_cursor(window[-1]) if window else None,
            },
        }

    # ---- mutations ------------------------------------------------------------------------------------
    def issueCreate(self, info: Any, input: Mapping[str, Any]) -> dict[str, Any]:
        if input["teamId"] != self.state.team_id:
            raise not_found("Team")
        fields = self._checked_fields(input)
        issue = self.sandbox.create_issue(
            title=input.get("title") or "", creator_id=self.state.bot.id, **fields
        )
        return {"success": True, "lastSyncId": self.sandbox.version, "issue": self.render_issue(issue)}

    def issueUpdate(self, info: Any, id: str, input: Mapping[str, Any]) -> dict[str, Any]:
        issue = self.state.issue_by_id(id)
        if issue is None:
            raise not_found("Issue")
        fields = self._checked_fields(input)
        labels = list(issue.label_ids)
        if input.get("labelIds") is not None:
            labels = list(dict.fromkeys(fields.pop("label_ids")))
        labels += [i for i in self._label_ids(input.get("addedLabelIds") or []) if i not in labels]
        removed = set(self._label_ids(input.get("removedLabelIds") or []))
        fields["label_ids"] = [i for i in labels if i not in removed]
        if "title" in input and input["title"] is not None:
            fields["title"] = input["title"]
        self.sandbox.update_issue(issue, **fields)
        return {"success": True, "lastSyncId": self.sandbox.version, "issue": self.render_issue(issue)}

    def _checked_fields(self, given: Mapping[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if given.get("description") is not None:
            fields["description"] = given["description"]
        if given.get("priority") is not None:
            if not 0 <= given["priority"] <= 4:
                raise user_error("Argument Validation Error: priority must be between 0 and 4")
            fields["priority"] = given["priority"]
        if given.get("stateId") is not None:
            if given["stateId"] not in self.state.states:
                raise not_found("WorkflowState")
            fields["state_id"] = given["stateId"]
        if "assigneeId" in given:
            if given["assigneeId"] is not None and self.person(given["assigneeId"]) is None:
                raise not_found("User")
            fields["assignee_id"] = given["assigneeId"]
        if given.get("labelIds") is not None:
            fields["label_ids"] = self._label_ids(given["labelIds"])
        return fields

    def _label_ids(self, ids: Iterable[str]) -> list[str]:
        ids = list(ids)
        if any(i not in self.state.labels for i in ids):
            raise not_found("IssueLabel")
        return ids

    def issueDelete(self, info: Any, id: str, permanentlyDelete: bool | None = None) -> dict[str, Any]:
        issue = self.state.issue_by_id(id)
        if issue is None:
            raise not_found("Issue")
        self.sandbox.delete_issue(issue.number)
        return {"success": True, "lastSyncId": self.sandbox.version}

    def commentCreate(self, info: Any, input: Mapping[str, Any]) -> dict[str, Any]:
        issue = self.state.issue_by_id(input.get("issueId") or "")
        if issue is None:
            raise not_found("Issue")
        if not (input.get("body") or "").strip():
            raise user_error("Argument Validation Error: body should not be empty")
        comment = self.sandbox.add_comment(issue.number, input["body"], self.state.bot.id)
        return {"success": True, "lastSyncId": self.sandbox.version, "comment": self.render_comment(comment)}

    def commentDelete(self, info: Any, id: str) -> dict[str, Any]:
        if id not in self.state.comments:
            raise not_found("Comment")
        self.sandbox.delete_comment(id)
        return {"success": True, "lastSyncId": self.sandbox.version, "entityId": id}

    def issueLabelCreate(self, info: Any, input: Mapping[str, Any]) -> dict[str, Any]:
        name = str(input["name"]).strip()
        if not name:
            raise user_error("Argument Validation Error: name should not be empty")
        if self.state.label_by_name(name) is not None:
            raise user_error("duplicate label name", presentable=f"A label named {name} already exists.")
        label = Label(new_id(self.state.ids), name, input.get("color") or "#bec2c8")
        self.state.labels[label.id] = label
        self.sandbox.touch()
        return {"success": True, "lastSyncId": self.sandbox.version, "issueLabel": vars_of(label)}

    def webhookCreate(self, info: Any, input: Mapping[str, Any]) -> dict[str, Any]:
        if not is_loopback_url(input["url"]):
            raise user_error("Argument Validation Error: url must be a loopback URL in the sandbox")
        if input.get("teamId") not in (None, self.state.team_id):
            raise not_found("Team")
        hook = Hook(
            new_id(self.state.ids),
            input["url"],
            input.get("secret"),
            tuple(input["resourceTypes"]),
            input.get("teamId"),
            input.get("label"),
            bool(input.get("enabled", True)),
        )
        self.state.hooks[hook.id] = hook
        self.sandbox.touch()
        return {"success": True, "lastSyncId": self.sandbox.version, "webhook": render_hook(hook)}

    def webhookDelete(self, info: Any, id: str) -> dict[str, Any]:
        if self.state.hooks.pop(id, None) is None:
            raise not_found("Webhook")
        self.sandbox.touch()
        return {"success": True, "lastSyncId": self.sandbox.version, "entityId": id}


def render_hook(hook: Hook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "label": hook.label,
        "enabled": hook.enabled,
        "resourceTypes": list(hook.resource_types),
    }


def vars_of(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


def connection(nodes: list[Any], args: Mapping[str, Any]) -> dict[str, Any]:
    """A short connection (labels, states, members, teams) served whole up to ``first``."""
    size = args.get("first") or DEFAULT_PAGE
    return {
        "nodes": nodes[:size],
        "pageInfo": {
            "hasNextPage": len(nodes) > size,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


def encode_cursor(key: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        sort_key, item_id = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return int(sort_key), str(item_id)
    except (ValueError, TypeError, UnicodeEncodeError):
        raise user_error("Argument Validation Error: after is not a valid cursor") from None


__all__ = ["Graph", "iso_ms", "not_found", "render_hook", "user_error"]
