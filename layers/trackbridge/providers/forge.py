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
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, ClassVar, Literal, cast

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
    def commits_request(self, since: datetime) -> PageRequest:
        """The first page of the default branch's commits since ``since``, newest first, 100 a page."""

    @abstractmethod
    def requests_request(self, since: datetime) -> PageRequest:
        """The first page of pull/merge requests, most recently updated first (``since`` where the forge
        filters by it), 100 a page."""

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
        for page in self.iter_pages(request):
            raws = self.expect_list(page.body, request.url)
            items = [self.normalize(what, partial(build, raw)) for raw in raws]
            recent = [item for item in items if item.at >= since]
            yield recent
            if len(recent) < len(items):
                return

    # ---- webhooks: changes -----------------------------------------------------------------------
    def issue_handles(self, number: int) -> tuple[str, str]:
        """The record key and the people's key of issue ``number``, as a webhook change names them."""
        return issue_ref(self.connection_id, number), f"#{number}"


__all__ = ["SEARCH_CAP", "ForgeAdapter", "ForgeFields", "objects"]
