"""What GitHub and GitLab share: a "forge" keeps issues under one repository or project, open or closed.

Both speak the same REST dialect with other field names (``number``/``iid``, ``body``/``description``,
``login``/``username``, ``html_url``/``web_url``), so their adapters declare the names
(:class:`ForgeFields`) and the differences of vocabulary (the open state's name, the state changes a
transition sends, the close transitions offered) and inherit the rest from :class:`ForgeAdapter`, written
once: the issue, comment and user builders, the external-id locator, the issue listing's normalized pages,
the search-until-limit loop, the open/closed transitions and the writes behind them, hook creation and
removal, the connection checks both run (scopes refused, issues turned off, webhook permission), the
:class:`~trackbridge.providers.types.WebhookChange` of an issue or a comment, and the paging of development
activity (commits, pull/merge requests: :meth:`ForgeAdapter.iter_activity_pages`) for link detection.
Repository activity (capability ``repository_activity``: commits, pull/merge requests, releases and
languages as :mod:`trackbridge.domain.activity` records) reads the same listings through the same page loop.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Literal, TypeVar, cast

from trackbridge.domain.activity import (
    LANGUAGES_ID,
    LanguageShares,
    RepoCommit,
    RepoRelease,
    RepoRequest,
    shares_of,
)
from trackbridge.domain.connections import Provider
from trackbridge.domain.dev_refs import ActivityKind, DevActivity
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import Comment, Issue, User, status_category_of
from trackbridge.providers._util import assignee_objects, issue_number, label_names, segment
from trackbridge.providers.base import FetchedPage, TrackerAdapter, describe_failure
from trackbridge.providers.errors import NotFoundError, PermissionDeniedError
from trackbridge.providers.pagination import PageCursor, PageRequest
from trackbridge.providers.types import (
    ConnectionCheck,
    IssuePage,
    Transition,
    WebhookRegistration,
)

# Neither forge's search returns more than 1000 results.
SEARCH_CAP = 1000
# A full read of repository activity (no ``since``) takes at most this many pages of each listing, newest
# first: the latest 1,000 commits, requests and releases, enough for a year's summary of most repositories.
ACTIVITY_FULL_PAGES = 10

_R = TypeVar("_R")


def objects(payload: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """``payload[key]``, a list of objects (absent or null: none); anything else is a ``TypeError``."""
    value = payload.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise TypeError(f"{key!r} is not a list of objects")
    return value


@dataclass(frozen=True, slots=True)
class ForgeFields:
    """Where a forge's JSON keeps what the normalized records need."""

    number: str  # the per-repository issue number: "number" (GitHub), "iid" (GitLab)
    body: str  # the issue's text: "body", "description"
    login: str  # a person's handle: "login", "username"
    url: str  # the issue's web page: "html_url", "web_url"
    comment_author: str  # who wrote a comment: "user", "author"
    emails: tuple[str, ...] = ("email",)  # a user's address, first non-empty wins
    # GitHub always sends labels: one missing is a malformed answer, not an issue without labels.
    labels_required: bool = False


class ForgeAdapter(TrackerAdapter):
    # ---- declared per forge ----------------------------------------------------------------------
    fields: ClassVar[ForgeFields]
    open_state: ClassVar[str]  # "open" (GitHub), "opened" (GitLab)
    # What transition_issue accepts (a category, a transition id or a state name) -> the write it sends.
    state_changes: ClassVar[Mapping[str, Mapping[str, str]]]
    close_transitions: ClassVar[tuple[Transition, ...]]
    issue_write_method: ClassVar[str]  # "PATCH" (GitHub), "PUT" (GitLab)
    webhook_guidance: ClassVar[str]  # what a failed webhook permission check tells the person in charge

    @property
    @abstractmethod
    def scope_path(self) -> str:
        """The API path of the repository or project (``/repos/o/r``, ``/projects/g%2Fp``)."""

    @property
    def locator(self) -> str:
        """The ``base_url_or_repo_url`` of external ids, by the tracker's declared rule (the one
        ``Connection.locator`` follows): ``{base_url}/repos/{repo}``, ``{base_url}/projects/{project}``."""
        key = self.scope_keys[0]
        return self.tracker.locate(self.config.base_url.rstrip("/"), {key: self.config.scope_value(key)})

    def issue_path(self, key: str | int) -> str:
        return f"{self.scope_path}/issues/{issue_number(key, provider=self.name)}"

    def priority_of(self, labels: Sequence[str]) -> str | None:
        """The priority an issue's labels express; forges have no priority field (GitHub: none)."""
        return None

    # ---- normalization ---------------------------------------------------------------------------
    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        names = self.fields

        def build() -> Issue:
            number = int(raw[names.number])
            state = str(raw["state"])
            labels = label_names(raw["labels"] if names.labels_required else raw.get("labels") or [])
            return Issue(
                ref=issue_ref(self.connection_id, number),
                external_id=external_id(self.name, self.locator, number),
                connection_id=self.connection_id,
                provider=cast(Provider, self.name),
                key=f"#{number}",
                title=str(raw["title"]),
                body=raw.get(names.body) or "",
                status=state,
                status_category=status_category_of(state),
                assignees=[str(a[names.login]) for a in assignee_objects(raw)],
                labels=labels,
                priority=self.priority_of(labels),
                issue_type=self.type_of(raw),
                url=raw.get(names.url),
                created_at=raw["created_at"],
                updated_at=raw["updated_at"],
            ).with_hash()

        issue = self.normalize("issue", build)
        relations = self.relations_of(raw, int(issue.native_id))
        return issue.model_copy(update=relations).with_hash() if relations else issue

    def type_of(self, raw: Mapping[str, Any]) -> str | None:
        """The issue's type name (GitHub's ``type.name``, GitLab's ``issue_type``); none by default."""
        return None

    def relations_of(self, raw: Mapping[str, Any], number: int) -> dict[str, Any]:
        """Issue fields about other issues (``parent_ref``, ``sub_issue_refs``, ``blocked_by_refs``) that
        only per-issue listings give: a forge asks for them only when the issue's own summary says there is
        something to list, so issues without relations cost no request. None by default."""
        return {}

    def comment_of(self, raw: Mapping[str, Any], number: int, *, what: str = "comment") -> Comment:
        """A comment (GitLab: a note) of issue ``number``."""
        names = self.fields

        def build() -> Comment:
            author = raw.get(names.comment_author) or {}
            return Comment(
                id=str(raw["id"]),
                issue_ref=issue_ref(self.connection_id, number),
                connection_id=self.connection_id,
                author=author.get(names.login),
                body=raw.get("body") or "",
                created_at=raw["created_at"],
                updated_at=raw.get("updated_at") or raw["created_at"],
            ).with_hash()

        return self.normalize(what, build)

    def normalize_user(self, raw: Mapping[str, Any]) -> User:
        names = self.fields

        def build() -> User:
            return User(
                id=str(raw["id"]),
                connection_id=self.connection_id,
                login=raw.get(names.login),
                display_name=raw.get("name"),
                email=next((str(raw[k]) for k in names.emails if raw.get(k)), None),
                active=raw.get("state", "active") == "active",
            )

        return self.normalize("user", build)

    # ---- listings ----------------------------------------------------------------------------------
    @abstractmethod
    def raw_issue_pages(
        self, since: datetime | None, include_closed: bool, cursor: PageCursor | None
    ) -> Iterator[FetchedPage]:
        """The issue listing's raw pages (arguments as :meth:`iter_issue_pages` takes them)."""

    def skip_issue(self, raw: Mapping[str, Any]) -> bool:
        """Items of the issue listing that are not issues (GitHub's pull requests)."""
        return False

    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        for page in self.raw_issue_pages(since, include_closed, cursor):
            yield self.normalized_page(page, "issues", self.normalize_issue, skip=self.skip_issue)

    # ---- search ------------------------------------------------------------------------------------
    @abstractmethod
    def search_request(self, query: str, per_page: int) -> PageRequest:
        """The first page of the forge's issue search for ``query``."""

    @abstractmethod
    def search_hits(self, body: Any) -> Iterable[Issue]:
        """The issues (pull requests left out) of one page of search results."""

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        limit = max(1, min(limit, SEARCH_CAP))
        return self.collect_until(self.search_request(query, min(limit, 100)), limit, self.search_hits)

    # ---- writes: an issue is open or closed ------------------------------------------------------
    def write_issue(self, key: str | int, payload: Mapping[str, Any], what: str) -> Issue:
        """Send absolute field values to the issue (safe to repeat); nothing to send reads it instead."""
        if not payload:
            return self.get_issue(str(key))
        raw = self.send_json(
            self.issue_write_method, self.issue_path(key), json=dict(payload), idempotent=True
        )
        return self.normalize_issue(self.expect_dict(raw, what))

    def list_transitions(self, key: str) -> list[Transition]:
        if self.get_issue(key).status == "closed":
            return [Transition("reopen", "Reopen", self.open_state, "todo")]
        return list(self.close_transitions)

    def transition_issue(self, key: str, target: str) -> Issue:
        change = self.state_changes.get(target.strip().lower())
        if change is None:
            raise ValidationFailed(
                f"{self.display_name} issues are {self.open_state} or closed; cannot move to {target!r}",
                details={"target": target, "accepted": sorted(self.state_changes)},
            )
        return self.write_issue(key, change, "transitioned issue")

    # ---- webhooks: registration ------------------------------------------------------------------
    def create_hook(
        self, payload: Mapping[str, Any], registration: Callable[[Mapping[str, Any]], WebhookRegistration]
    ) -> WebhookRegistration:
        raw = self.expect_dict(self.send_json("POST", f"{self.scope_path}/hooks", json=payload), "webhook")
        return self.normalize("webhook", lambda: registration(raw))

    def unregister_webhook(self, hook_id: str) -> None:
        self.delete_if_present(f"{self.scope_path}/hooks/{segment(hook_id)}")

    def webhook_info(self, hook_id: str) -> dict[str, Any] | None:
        """The hook as the forge describes it (GitHub ``active`` and ``last_response``; GitLab
        ``alert_status`` and ``disabled_until``), or None when it is gone."""
        try:
            return self.expect_dict(self.get_json(f"{self.scope_path}/hooks/{segment(hook_id)}"), "webhook")
        except NotFoundError:
            return None

    def scopes_refused(self, granted: Iterable[str], guidance: str) -> ConnectionCheck:
        """The failed ``scopes`` check: the token's scopes do not cover reading issues."""
        return ConnectionCheck(
            "scopes",
            False,
            f"token scopes: {', '.join(sorted(granted)) or 'none'}",
            guidance,
            ErrorCode.PERMISSION_DENIED,
        )

    def issues_turned_off(self, check: str, where: str, guidance: str) -> ConnectionCheck:
        return ConnectionCheck(check, False, f"{where} has issues turned off", guidance, ErrorCode.NOT_FOUND)

    def webhook_check(self) -> ConnectionCheck:
        """Can the token manage hooks here? Listing them needs the same right as creating one."""
        try:
            self.get_json(f"{self.scope_path}/hooks", params={"per_page": 1})
        except (PermissionDeniedError, NotFoundError) as exc:
            return ConnectionCheck(
                "webhooks", False, describe_failure(exc), self.webhook_guidance, ErrorCode.PERMISSION_DENIED
            )
        return ConnectionCheck("webhooks", True, "can register webhooks")

    # ---- development activity (capability ``dev_activity``) ----------------------------------------
    request_kind: ClassVar[ActivityKind]  # "pull_request" (GitHub), "merge_request" (GitLab)

    @property
    def repository_path(self) -> str:
        """The repository or project as people name it (``acme/widgets``): what ``#12`` is relative to."""
        return self.config.scope_value(self.scope_keys[0])

    @abstractmethod
    def commits_request(self, since: datetime | None) -> PageRequest:
        """The first page of the default branch's commits since ``since`` (None: all), newest first, 100
        a page."""

    @abstractmethod
    def requests_request(self, since: datetime | None) -> PageRequest:
        """The first page of pull/merge requests, most recently updated first (``since`` where the forge
        filters by it; None: all), 100 a page."""

    @abstractmethod
    def commit_of(self, raw: Mapping[str, Any]) -> DevActivity:
        """A commit of the listing."""

    @abstractmethod
    def request_of(self, raw: Mapping[str, Any]) -> DevActivity:
        """A pull/merge request of the listing; ``at`` is its ``updated_at``."""

    def iter_activity_pages(
        self, what: Literal["commits", "requests"], *, since: datetime
    ) -> Iterator[list[DevActivity]]:
        """Pages of commits or pull/merge requests changed at or after ``since``, newest first. The request
        listing is ordered by update, so paging stops at the first page that reaches before ``since``
        (GitHub's pull listing has no ``since`` filter)."""
        if what == "commits":
            request, build = self.commits_request(since), self.commit_of
        else:
            request, build = self.requests_request(since), self.request_of
        yield from self._newest_first(request, what, build, lambda item: item.at, since)

    def _newest_first(
        self,
        request: PageRequest,
        what: str,
        build: Callable[[Mapping[str, Any]], _R],
        at: Callable[[_R], datetime] | None,
        since: datetime | None,
        *,
        max_pages: int | None = None,
    ) -> Iterator[list[_R]]:
        """Pages of a newest-first listing, built, without the items before ``since`` (``at`` says when an
        item is from); paging stops at the first page that reaches before it, or after ``max_pages``."""
        for count, page in enumerate(self.iter_pages(request), start=1):
            raws = self.expect_list(page.body, request.url)
            items = [self.normalize(what, partial(build, raw)) for raw in raws]
            recent = [item for item in items if since is None or at is None or at(item) >= since]
            yield recent
            if len(recent) < len(items) or (max_pages is not None and count >= max_pages):
                return

    # ---- repository activity (capability ``repository_activity``) ----------------------------------
    release_time: ClassVar[str]  # when a release went out: "published_at" (GitHub), "released_at" (GitLab)
    languages_in_bytes: ClassVar[bool]  # GitHub counts bytes per language, GitLab gives percentages

    @abstractmethod
    def releases_request(self) -> PageRequest:
        """The first page of the repository's releases, newest first, 100 a page."""

    def iter_repo_commits(self, *, since: datetime | None) -> Iterator[list[RepoCommit]]:
        """Commits of the default branch at or after ``since`` (None: the latest ``ACTIVITY_FULL_PAGES``
        pages), newest first, read as link detection reads them (:meth:`commit_of`)."""
        pages = self._newest_first(
            self.commits_request(since), "commits", self.commit_of, lambda c: c.at, since,
            max_pages=ACTIVITY_FULL_PAGES,
        )  # fmt: skip
        for page in pages:
            yield [
                RepoCommit(
                    id=RepoCommit.id_of(RepoCommit.kind, c.id),
                    connection_id=self.connection_id,
                    sha=c.id,
                    committed_at=c.at,
                    updated_at=c.at,
                    title=c.text.strip().splitlines()[0][:300] if c.text.strip() else "",
                    url=c.url,
                ).with_hash()
                for c in page
            ]

    def iter_repo_requests(self, *, since: datetime | None) -> Iterator[list[RepoRequest]]:
        """Pull/merge requests updated at or after ``since`` (None: the latest ``ACTIVITY_FULL_PAGES``
        pages), most recently updated first: link detection's listing, read into full records."""
        yield from self._newest_first(
            self.requests_request(since), "requests", self.repo_request_of, lambda r: r.updated_at, since,
            max_pages=ACTIVITY_FULL_PAGES,
        )  # fmt: skip

    def repo_request_of(self, raw: Mapping[str, Any]) -> RepoRequest:
        """A request as a record: merged when it has a merge time (GitLab also says ``merged``), open in
        the forge's open state (or GitLab's ``locked``, still open for merging), closed otherwise."""
        names = self.fields
        number = int(raw[names.number])
        merged_at = raw.get("merged_at")
        if merged_at is None and raw["state"] == "merged":
            merged_at = raw["updated_at"]
        state = "merged" if merged_at else "open" if raw["state"] in (self.open_state, "locked") else "closed"
        author = raw.get(names.comment_author) or {}
        return RepoRequest(
            id=RepoRequest.id_of(RepoRequest.kind, number),
            connection_id=self.connection_id,
            number=number,
            state=state,
            title=str(raw["title"]),
            author=author.get(names.login),
            draft=bool(raw.get("draft")),
            created_at=raw["created_at"],
            updated_at=raw["updated_at"],
            merged_at=merged_at,
            closed_at=raw.get("closed_at") if state != "open" else None,
            url=raw.get(names.url),
        ).with_hash()

    def iter_repo_releases(self, *, full: bool) -> Iterator[list[RepoRelease]]:
        """Published releases, newest first: one page (the newest 100) unless ``full``. A repository
        publishes few releases, so the newest page covers any incremental window, and a release
        published long after it was drafted is still met (GitHub orders releases by creation)."""
        pages = self._newest_first(
            self.releases_request(), "releases", self.release_of, None, None,
            max_pages=ACTIVITY_FULL_PAGES if full else 1,
        )  # fmt: skip
        for page in pages:
            yield [release for release in page if release is not None]

    def release_of(self, raw: Mapping[str, Any]) -> RepoRelease | None:
        """A release as a record; a draft (GitHub) is not out yet: None."""
        if raw.get("draft"):
            return None
        tag = str(raw["tag_name"])
        released = raw.get(self.release_time) or raw["created_at"]
        return RepoRelease(
            id=RepoRelease.id_of(RepoRelease.kind, tag),
            connection_id=self.connection_id,
            tag=tag,
            name=raw.get("name"),
            released_at=released,
            updated_at=released,
            prerelease=bool(raw.get("prerelease") or raw.get("upcoming_release")),
            url=raw.get(self.fields.url) or (raw.get("_links") or {}).get("self"),
        ).with_hash()

    def repo_languages(self, *, seen_at: datetime) -> LanguageShares | None:
        """The repository's languages as percentages, stamped ``seen_at``; None when the tracker says they
        did not change since the listing was last read (a 304 on the ETag the sync engine keeps)."""
        request = PageRequest(f"{self.scope_path}/languages", {})
        page = next(iter(self.iter_pages(request, conditional=True)))
        if page.not_modified:
            return None
        body = self.expect_dict(page.body, "languages")

        def build() -> LanguageShares:
            sizes = {str(name): float(size) for name, size in body.items()}
            return LanguageShares(
                id=LANGUAGES_ID,
                connection_id=self.connection_id,
                shares=shares_of(sizes, percentages=not self.languages_in_bytes),
                updated_at=seen_at,
            ).with_hash()

        return self.normalize("languages", build)

    # ---- webhooks: changes -----------------------------------------------------------------------
    def issue_handles(self, number: int) -> tuple[str, str]:
        """The record key and the people's key of issue ``number``, as a webhook change names them."""
        return issue_ref(self.connection_id, number), f"#{number}"


__all__ = ["ACTIVITY_FULL_PAGES", "SEARCH_CAP", "ForgeAdapter", "ForgeFields", "objects"]
