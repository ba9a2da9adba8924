"""The GitLab sandbox's repository activity: commits of the default branch and merge requests.

``GET /projects/:id/repository/commits`` (``doc/api/commits.md``): newest first; ``ref_name`` a branch
(only ``main`` exists) or a sha of 8+ characters, else 404 ``404 Commit Not Found``; ``since``/``until`` ISO
8601 (a bad one is 400 ``since is invalid``); offset pages with ``X-Next-Page`` and ``Link``.

``GET /projects/:id/merge_requests`` (``doc/api/merge_requests.md``): ``state`` (opened, closed, locked,
merged, all), ``order_by`` (created_at, updated_at, title), ``sort`` (asc, desc; default desc),
``updated_after``/``updated_before``/``created_after``/``created_before``, offset pages;
``GET .../merge_requests/:iid`` one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..core import Reply, SandboxRequest, route
from ._base import JSON_TYPE, PROJECT, GitLabBase
from ._query import Params, api_message, invalid, parse_time_ms
from ._state import Commit, MergeRequest, commit_sha

DEFAULT_BRANCH = "main"
MR_STATES = ("opened", "closed", "locked", "merged", "all")


def _time(params: Params, name: str) -> int | None:
    raw = params.string(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_time_ms(raw)
    except ValueError:
        raise invalid(name) from None


def _within(value: int, after: int | None, before: int | None) -> bool:
    return (after is None or value >= after) and (before is None or value <= before)


class RepositoryRoutes(GitLabBase):
    """Commits and merge requests of ``acme/widgets``."""

    @route("GET", PROJECT + "/repository/commits")
    def list_commits(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        params = self._params(request)
        since, until = _time(params, "since"), _time(params, "until")
        history = state.commits
        ref = params.string("ref_name")
        if ref and ref != DEFAULT_BRANCH:
            start = next(
                (i for i, c in enumerate(history) if len(ref) >= 8 and c.sha.startswith(ref.lower())), None
            )
            if start is None:
                raise api_message(404, "404 Commit Not Found")
            history = history[start:]
        kept = [commit for commit in history if _within(commit.date, since, until)]
        render: Callable[[Commit], Any] = self.render.commit
        return self._offset_reply(request, params, kept, render)

    @route("GET", PROJECT + "/merge_requests")
    def list_merge_requests(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        params = self._params(request)
        wanted = params.choice("state", MR_STATES, "all")
        order_by = params.choice("order_by", ("created_at", "updated_at", "title"), "created_at")
        descending = params.choice("sort", ("asc", "desc"), "desc") == "desc"
        updated = (_time(params, "updated_after"), _time(params, "updated_before"))
        created = (_time(params, "created_after"), _time(params, "created_before"))

        def order(mr: MergeRequest) -> tuple[Any, int]:
            value: Any = {"created_at": mr.created_at, "updated_at": mr.updated_at}.get(order_by, mr.title)
            return (value, mr.iid)

        kept = sorted(
            (
                mr
                for mr in state.merge_requests
                if (wanted == "all" or mr.state == wanted)
                and _within(mr.updated_at, *updated)
                and _within(mr.created_at, *created)
            ),
            key=order,
            reverse=descending,
        )
        return self._offset_reply(request, params, kept, self.render.merge_request)

    @route("GET", PROJECT + "/merge_requests/{merge_request_iid:int}")
    def get_merge_request(self, request: SandboxRequest, id: str, merge_request_iid: int) -> Reply:
        state = self._project(request, id)
        if not 1 <= merge_request_iid <= len(state.merge_requests):
            raise api_message(404, "404 Not found")
        rendered = self.render.merge_request(state.merge_requests[merge_request_iid - 1])
        return Reply(rendered, 200, content_type=JSON_TYPE)

    # ---- writes behind /_sandbox/mutate (the sandbox has no git server to push to)
    def _push(self, message: str, actor: str, branch: str) -> Commit:
        state = self.state
        before = state.commits[0].sha if state.commits else "0" * 40
        when = max(self._now_ms(), state.commits[0].date + 1 if state.commits else 0)
        parent = state.commits[0].sha if state.commits else None
        commit = Commit(commit_sha(parent, when, message), message, actor, when, parent)
        state.commits.insert(0, commit)
        self.touch()
        if self._subscribed("push_events"):
            self._fire("push_hooks", self.render.push_hook([commit], before, branch, actor))
        return commit

    def _open_merge_request(
        self, title: str, description: str | None, source: str, actor: str
    ) -> MergeRequest:
        state = self.state
        now = self._now_ms()
        mr = MergeRequest(
            len(state.merge_requests) + 1, title, description, actor, source, "opened", now, now
        )
        state.merge_requests.append(mr)
        self.touch()
        if self._subscribed("merge_requests_events"):
            self._fire("merge_request_hooks", self.render.merge_request_hook(mr, "open", actor))
        return mr
