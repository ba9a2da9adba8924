"""The GitLab sandbox's project languages and releases.

``GET /projects/:id/languages`` (``doc/api/projects.md``, "Languages"): an object of language -> percent of
the repository's code, largest first, two decimals (``{"Ruby": 66.69, "JavaScript": 22.98}``).

``GET /projects/:id/releases`` (``doc/api/releases/index.md``): ``order_by`` ``released_at`` (default) or
``created_at``, ``sort`` ``desc`` (default) or ``asc`` (anything else 400 ``... does not have a valid
value``), offset pages with ``X-Next-Page``/``Link`` like every GitLab listing. Each release carries
``tag_name``, ``name``, ``description``, ``created_at``, ``released_at``, ``upcoming_release``, ``author``,
``commit``, ``commit_path``, ``tag_path``, ``assets`` and ``_links``.

Releases are derived from the seeded history, not stored: every ``RELEASE_EVERY``-th commit of ``main``
(oldest first) is tagged ``v1.<n>.0`` and released a day later, so a seed always gives the same releases,
spread over the weeks the commits span, and the issues and notes seeded before stay where they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..core import Reply, SandboxRequest, route
from ._base import JSON_TYPE, PROJECT, GitLabBase
from ._render import iso_ms
from ._state import Commit, GitLabState

RELEASE_EVERY: Final = 9
DAY_MS: Final = 86_400_000
LANGUAGES: Final = {"Python": 81.37, "Shell": 11.05, "Dockerfile": 4.9, "Makefile": 2.68}


@dataclass(frozen=True, slots=True)
class SeededRelease:
    tag_name: str
    commit: Commit
    created_at: int
    released_at: int


def seeded_releases(state: GitLabState) -> list[SeededRelease]:
    """The project's releases, oldest first (see the module docstring)."""
    oldest_first = list(reversed(state.commits))
    return [
        SeededRelease(f"v1.{n}.0", commit, commit.date + DAY_MS // 2, commit.date + DAY_MS)
        for n, commit in enumerate(oldest_first[RELEASE_EVERY - 1 :: RELEASE_EVERY])
    ]


class ReleaseRoutes(GitLabBase):
    """Languages and releases of ``acme/widgets``."""

    @route("GET", PROJECT + "/languages")
    def list_languages(self, request: SandboxRequest, id: str) -> Reply:
        self._project(request, id)
        return Reply(dict(LANGUAGES), 200, content_type=JSON_TYPE)

    @route("GET", PROJECT + "/releases")
    def list_releases(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        params = self._params(request)
        order_by = params.choice("order_by", ("released_at", "created_at"), "released_at")
        descending = params.choice("sort", ("asc", "desc"), "desc") == "desc"
        releases = sorted(
            seeded_releases(state),
            key=lambda r: (r.released_at if order_by == "released_at" else r.created_at, r.tag_name),
            reverse=descending,
        )
        return self._offset_reply(request, params, releases, self._release)

    def _release(self, release: SeededRelease) -> dict[str, Any]:
        web = self.render.web
        path = self.state.full_path
        commit = self.render.commit(release.commit)
        return {
            "tag_name": release.tag_name,
            "description": f"Release notes for {release.tag_name}.",
            "name": f"Widgets {release.tag_name}",
            "created_at": iso_ms(release.created_at),
            "released_at": iso_ms(release.released_at),
            "upcoming_release": release.released_at > self._now_ms(),
            "historical_release": False,
            "author": self.render.user(release.commit.author),
            "commit": commit,
            "milestones": [],
            "commit_path": f"/{path}/-/commit/{release.commit.sha}",
            "tag_path": f"/{path}/-/tags/{release.tag_name}",
            "assets": {
                "count": 2,
                "sources": [
                    {
                        "format": fmt,
                        "url": f"{web}/-/archive/{release.tag_name}/widgets-{release.tag_name}.{fmt}",
                    }
                    for fmt in ("zip", "tar.gz")
                ],
                "links": [],
            },
            "evidences": [],
            "_links": {
                "closed_issues_url": f"{web}/-/issues?release_tag={release.tag_name}&scope=all&state=closed",
                "closed_merge_requests_url": f"{web}/-/merge_requests?release_tag={release.tag_name}"
                "&scope=all&state=closed",
                "edit_url": f"{web}/-/releases/{release.tag_name}/edit",
                "merged_merge_requests_url": f"{web}/-/merge_requests?release_tag={release.tag_name}"
                "&scope=all&state=merged",
                "opened_issues_url": f"{web}/-/issues?release_tag={release.tag_name}&scope=all&state=opened",
                "opened_merge_requests_url": f"{web}/-/merge_requests?release_tag={release.tag_name}"
                "&scope=all&state=opened",
                "self": f"{web}/-/releases/{release.tag_name}",
            },
        }


__all__ = ["LANGUAGES", "RELEASE_EVERY", "ReleaseRoutes", "SeededRelease", "seeded_releases"]
