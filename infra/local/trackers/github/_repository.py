"""The GitHub sandbox's account, rate-limit, repository and pull-request routes."""

from __future__ import annotations

from typing import Any

from ..core import (
    ApiError,
    Reply,
    SandboxRequest,
    link_header,
    page_url,
    route,
)
from ._base import (
    DEFAULT_BRANCH,
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    REPO,
    GitHubBase,
    invalid,
    sorted_issues,
)


class RepositoryRoutes(GitHubBase):
    """``/rate_limit``, users, the repository and what hangs off it, pull requests."""

    @route("GET", "/rate_limit", rate_limited=False)
    def get_rate_limit(self, request: SandboxRequest) -> Reply:
        assert request.principal is not None
        bucket = self.rate_status(request.principal)
        core = {
            "limit": bucket.limit,
            "used": bucket.used,
            "remaining": bucket.remaining,
            "reset": bucket.reset,
        }

        def other(limit: int, resource: str, window: int) -> dict[str, Any]:
            reset = self.now() + window
            return {"limit": limit, "used": 0, "remaining": limit, "reset": reset, "resource": resource}

        searching = self._search_bucket(request.principal, charge=False)
        resources = {
            "core": {**core, "resource": "core"},
            "search": {
                "limit": searching.limit,
                "used": searching.used,
                "remaining": searching.remaining,
                "reset": searching.reset,
                "resource": "search",
            },
            "graphql": other(5000, "graphql", 3600),
            "integration_manifest": other(5000, "integration_manifest", 3600),
            "source_import": other(100, "source_import", 60),
            "code_scanning_upload": other(1000, "code_scanning_upload", 3600),
            "actions_runner_registration": other(10000, "actions_runner_registration", 3600),
            "scim": other(15000, "scim", 3600),
            "dependency_snapshots": other(100, "dependency_snapshots", 60),
            "code_search": other(10, "code_search", 60),
        }
        reply = Reply({"resources": resources, "rate": {**core, "resource": "core"}})
        reply.headers.update(self.rate_limit_headers(bucket))
        return reply

    @route("GET", "/user")
    def get_authenticated_user(self, request: SandboxRequest) -> Reply:
        principal = request.principal
        if principal is None or not principal.authenticated:
            raise ApiError(401, "Requires authentication")
        return Reply(self.render.user_profile(principal.login, private=True))

    @route("GET", "/users/{username}")
    def get_user(self, request: SandboxRequest, username: str) -> Reply:
        if username not in self.state.users:
            raise ApiError(404, "Not Found")
        return Reply(self.render.user_profile(username, private=False))

    @route("GET", REPO)
    def get_repository(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        self._repo(request, owner, repo)
        return Reply(self.render.full_repository(admin=True))

    @route("GET", REPO + "/languages")
    def list_languages(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        return Reply(dict(self._repo(request, owner, repo).languages))

    @route("GET", REPO + "/commits")
    def list_commits(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        author = request.args.get("author")
        since = self._since(request, "Commit")
        until = self._since(request, "Commit", "until")
        history = state.commits
        start = request.args.get("sha")
        if start and start != DEFAULT_BRANCH:
            # A sha (or its prefix of 7+) starts the history there; the sandbox has one branch, main.
            found = next(
                (i for i, c in enumerate(history) if len(start) >= 7 and c.sha.startswith(start.lower())),
                None,
            )
            if found is None:
                raise ApiError(404, f"No commit found for SHA: {start}")
            history = history[found:]
        commits = [
            commit
            for commit in history
            if (author is None or commit.author == author)
            and (since is None or commit.date >= since)
            and (until is None or commit.date <= until)
        ]
        return self._page_reply(request, commits, self.render.commit, "Commit")

    @route("GET", REPO + "/releases")
    def list_releases(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        return self._page_reply(request, state.releases, self.render.release, "Release")

    @route("GET", REPO + "/security-advisories")
    def list_security_advisories(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        """Cursor pagination (``before``/``after`` in the ``Link`` header), not ``page``, as on GitHub."""
        state = self._repo(request, owner, repo)
        sort = self._choice(
            request, "sort", ("created", "updated", "published"), "created", "RepositoryAdvisory"
        )
        direction = self._choice(request, "direction", ("asc", "desc"), "desc", "RepositoryAdvisory")
        wanted = request.args.get("state")
        if wanted is not None and wanted not in ("triage", "draft", "published", "closed"):
            raise invalid("RepositoryAdvisory", "state", wanted)
        per_page = self._int_arg(request, "per_page", DEFAULT_PER_PAGE, "RepositoryAdvisory")
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)

        def sort_key(advisory: Any) -> tuple[int, str]:
            value = {"created": advisory.created_at, "updated": advisory.updated_at}.get(sort)
            if value is None:
                value = advisory.published_at or 0
            return (value, advisory.ghsa_id)

        items = sorted(
            (a for a in state.advisories if wanted is None or a.state == wanted),
            key=sort_key,
            reverse=direction == "desc",
        )
        ids = [advisory.ghsa_id for advisory in items]
        start, stop = 0, per_page
        if after := request.args.get("after"):
            if after not in ids:
                raise ApiError(400, "Invalid cursor value")
            start = ids.index(after) + 1
            stop = start + per_page
        elif before := request.args.get("before"):
            if before not in ids:
                raise ApiError(400, "Invalid cursor value")
            stop = ids.index(before)
            start = max(stop - per_page, 0)
        chunk = items[start:stop]
        params = dict(request.args.items())
        links: list[tuple[str, str]] = []
        if chunk and start > 0:
            links.append(
                ("prev", page_url(self.url, request.path, params, after=None, before=chunk[0].ghsa_id))
            )
        if chunk and stop < len(items):
            links.append(
                ("next", page_url(self.url, request.path, params, before=None, after=chunk[-1].ghsa_id))
            )
        headers = {"Link": value} if (value := link_header(links)) else {}
        return Reply([self.render.advisory(a) for a in chunk], 200, headers)

    @route("GET", REPO + "/pulls")
    def list_pulls(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        wanted = self._choice(request, "state", ("open", "closed", "all"), "open", "PullRequest")
        sort = self._choice(
            request, "sort", ("created", "updated", "popularity", "long-running"), "created", "PullRequest"
        )
        default_direction = "desc" if sort in ("created", "updated") else "asc"
        direction = self._choice(request, "direction", ("asc", "desc"), default_direction, "PullRequest")
        ordered = "updated" if sort == "updated" else "created"
        keys = self.view(
            ("pulls", wanted, ordered, direction),
            lambda: [
                issue.number
                for issue in sorted_issues(state, ordered, direction == "desc")
                if issue.pull and (wanted == "all" or issue.state == wanted)
            ],
        )
        issues, render = state.issues, self.render.pull
        return self._page_reply(request, keys, lambda number: render(issues[number - 1]), "PullRequest")

    @route("GET", REPO + "/pulls/{pull_number:int}")
    def get_pull(self, request: SandboxRequest, owner: str, repo: str, pull_number: int) -> Reply:
        issue = self._issue(request, owner, repo, pull_number)
        if not issue.pull:
            raise ApiError(404, "Not Found")
        return Reply(self.render.pull(issue, detail=True))
