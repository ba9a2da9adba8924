"""Redmine over its REST API (JSON), for one project (``{"project": "<identifier or id>"}``).

Redmine specifics handled here (Redmine's REST API description, "Rest_Issues", "Rest_IssueJournals",
"Rest_IssueStatuses", "Rest_Memberships", "Rest_api#Authentication"; cross-checked with python-redmine 2.5,
whose ``ResourceSet`` pages the same way):

- auth by the user's API access key in ``X-Redmine-API-Key`` (the key never goes into a query string);
- ``GET /issues.json`` pages by ``offset``/``limit`` (at most 100) and says ``total_count``; it lists open
  issues only unless ``status_id=*``. A full pass is ordered by ``id`` (an order updates cannot change),
  an incremental one filters ``updated_on=>=<ISO>`` (whole seconds) ordered by ``updated_on,id``;
- comments are the journals with ``notes`` (``GET /issues/{id}.json?include=journals``): there is no
  project-wide journal listing, so the sync asks only issues whose ``updated_on`` moved (a new journal
  bumps it). Private notes are left out: they are for the tracker's own roles;
- writes: ``POST /issues.json`` answers the issue (201); ``PUT /issues/{id}.json`` answers 204 and nothing
  else, so the adapter reads the issue back. A comment is an update with ``notes``. A transition is a
  ``status_id`` from ``/issue_statuses.json`` (``is_closed`` says which are done). Validation errors are
  ``422 {"errors": ["Subject cannot be blank"]}``;
- labels: Redmine has none; they are the values of the project's multi-value list custom field named
  ``Labels`` (:data:`LABELS_FIELD`), priority is the issue priority by name, the type is the tracker;
- no rate limit of its own (a proxy in front may answer 429 with ``Retry-After``); Rails' ``Rack::ETag``
  and ``Rack::ConditionalGet`` answer ``If-None-Match`` with 304;
- no webhooks of its own: the sync polls, and deletions are found by the periodic id listing
  (``runtime/sync/deletion_check.py``). The common webhook plugin (redmine_webhook) posts
  ``{"payload": {"action": "opened"|"updated", "issue": {...}, "journal": {...}, "url": ...}}`` unsigned,
  to one URL per project that the plugin's project settings hold: trackbridge's hook URL carries the
  connection's secret as its userinfo (``https://hook:<secret>@.../v1/webhooks/redmine/<id>``), which
  arrives as ``Authorization: Basic`` and is compared in constant time
  (:class:`~trackbridge.providers.signatures.UrlUserinfoSecret`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

from trackbridge.domain.connections import Provider
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.issues import Comment, Issue, User
from trackbridge.domain.trackers import REDMINE, StatusCategory
from trackbridge.providers._util import iso_seconds, issue_number, segment
from trackbridge.providers.auth import HeaderTokenScheme
from trackbridge.providers.base import CheckStep, FetchedPage, TrackerAdapter
from trackbridge.providers.classify import ErrorRule
from trackbridge.providers.errors import NotFoundError
from trackbridge.providers.pagination import OffsetPaginator, PageCursor, PageRequest
from trackbridge.providers.ratelimit import NoRateLimitHeaders
from trackbridge.providers.signatures import UrlUserinfoSecret
from trackbridge.providers.types import (
    Capabilities,
    ConnectionCheck,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Transition,
    WebhookChange,
    WebhookDelivery,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import obj, parse_time

# The custom field whose values are an issue's labels (a list field with multiple values).
LABELS_FIELD = "Labels"
# The user name of the hook URL's userinfo; its password is the connection's webhook secret.
HOOK_USER = "trackbridge"

REDMINE_ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(
        ErrorCode.AUTH_INVALID,
        frozenset({401}),
        guidance="Redmine refused the API key: copy it again from My account > API access key, and check "
        "that Administration > Settings > API has 'Enable REST web service' on.",
    ),
    ErrorRule(
        ErrorCode.PERMISSION_DENIED,
        frozenset({403}),
        guidance="The key's user lacks a permission in this project: a role with 'View issues' syncs; "
        "'Add issues', 'Edit issues' and 'Add notes' write.",
    ),
    ErrorRule(
        ErrorCode.NOT_FOUND,
        frozenset({404}),
        guidance="Redmine answers 404 for what does not exist and for what the key's user cannot see "
        "(a private project it is no member of): check the project identifier and the membership.",
    ),
)


def offset_pages(items_field: str) -> OffsetPaginator:
    """Redmine's collections: ``offset`` + what came back, until ``total_count`` is reached."""
    return OffsetPaginator(
        start_param="offset",
        items_field=items_field,
        last_field=None,
        total_field="total_count",
        size_param="limit",
    )


class RedmineAdapter(TrackerAdapter):
    tracker = REDMINE  # name, display name, scope keys, base URL rule, incremental overlap and its reason
    capabilities = Capabilities(transitions=True, conditional_requests=True, webhook_registration=True)
    auth_scheme = HeaderTokenScheme(header="X-Redmine-API-Key")
    page_size = 100
    paginator = offset_pages("issues")
    rate_limits = NoRateLimitHeaders()
    error_rules = REDMINE_ERROR_RULES
    signature_schemes = (UrlUserinfoSecret(),)
    default_headers = {"Accept": "application/json"}

    # ---- addressing ------------------------------------------------------------------------------
    @property
    def project(self) -> str:
        return self.config.scope_value("project")

    @property
    def locator(self) -> str:
        return self.tracker.locate(self.config.base_url.rstrip("/"), {"project": self.project})

    def issue_path(self, key: str | int) -> str:
        return f"/issues/{issue_number(key, provider=self.name)}.json"

    # ---- normalization ---------------------------------------------------------------------------
    def status_category(self, status: Mapping[str, Any]) -> StatusCategory:
        """Done when the status is closed (``is_closed``, Redmine 5.1+), else by its name."""
        if status.get("is_closed") is True:
            return "done"
        category = self.tracker.status_category(str(status["name"]))
        # An open status is never done, whatever an instance calls it.
        return "in_progress" if category == "done" else category

    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        def build() -> Issue:
            number = int(raw["id"])
            status = raw["status"]
            assignee = raw.get("assigned_to")
            parent = raw.get("parent")
            return Issue(
                ref=issue_ref(self.connection_id, number),
                external_id=external_id(self.name, self.locator, number),
                connection_id=self.connection_id,
                provider=cast(Provider, self.name),
                key=f"#{number}",
                title=str(raw["subject"]),
                body=raw.get("description") or "",
                status=str(status["name"]),
                status_category=self.status_category(status),
                assignees=[str(assignee["name"])] if assignee else [],
                labels=labels_of(raw),
                priority=(raw.get("priority") or {}).get("name"),
                issue_type=(raw.get("tracker") or {}).get("name"),
                url=f"{self.config.base_url.rstrip('/')}/issues/{number}",
                parent_ref=issue_ref(self.connection_id, int(parent["id"])) if parent else None,
                created_at=raw["created_on"],
                updated_at=raw["updated_on"],
            ).with_hash()

        return self.normalize("issue", build)

    def normalize_journal(self, raw: Mapping[str, Any], number: int) -> Comment:
        def build() -> Comment:
            return Comment(
                id=str(raw["id"]),
                issue_ref=issue_ref(self.connection_id, number),
                connection_id=self.connection_id,
                author=(raw.get("user") or {}).get("name"),
                body=str(raw["notes"]),
                created_at=raw["created_on"],
                updated_at=raw.get("updated_on") or raw["created_on"],
            ).with_hash()

        return self.normalize("journal", build)

    # ---- listings --------------------------------------------------------------------------------
    def issue_listing(self, since: datetime | None, include_closed: bool, **extra: Any) -> PageRequest:
        params: dict[str, Any] = {
            "project_id": self.project,
            "status_id": "*" if include_closed else "open",
            "limit": self.page_size,
            "sort": "id",
        }
        if since is not None:
            params.update({"updated_on": f">={iso_seconds(since)}", "sort": "updated_on,id"})
        params.update(extra)
        return PageRequest("/issues.json", params)

    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        request = self.issue_listing(since, include_closed)
        for page in self.iter_pages(request, cursor=cursor, conditional=True):
            if not page.not_modified:  # {"issues": [...], "total_count", "offset", "limit"}
                issues = self.expect_dict(page.body, "issues").get("issues")
                page = FetchedPage(page.request, issues, page.next_cursor)
            yield self.normalized_page(page, "issues", self.normalize_issue)

    def raw_issue(self, key: str | int, *, journals: bool = False) -> dict[str, Any]:
        params = {"include": "journals"} if journals else None
        body = self.expect_dict(self.get_json(self.issue_path(key), params=params), "issue")
        return self.expect_dict(body.get("issue"), "issue")

    def get_issue(self, key: str) -> Issue:
        return self.normalize_issue(self.raw_issue(key))

    def comments_of(self, raw: Mapping[str, Any]) -> list[Comment]:
        number = int(raw["id"])
        journals = self.expect_list(raw.get("journals") or [], "journals")
        return [
            self.normalize_journal(j, number)
            for j in journals
            if j.get("notes") and not j.get("private_notes")
        ]

    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        comments = self.comments_of(self.raw_issue(key, journals=True))
        # Journals come with their issue: no time filter to ask for, the request is the same.
        return [c for c in comments if since is None or c.updated_at >= since]

    def get_comment(self, key: str, comment_id: str) -> Comment:
        found = [c for c in self.list_issue_comments(key) if c.id == str(comment_id).strip()]
        if not found:
            raise NotFoundError(f"no comment {comment_id!r} on {key}", provider=self.name, status=404)
        return found[0]

    def list_users(self) -> list[User]:
        request = PageRequest(f"/projects/{segment(self.project)}/memberships.json", {"limit": 100})
        users: dict[str, User] = {}
        for page in self.iter_pages(request, paginator=offset_pages("memberships")):
            body = self.expect_dict(page.body, "memberships")
            for membership in self.expect_list(body.get("memberships"), "memberships"):
                person = membership.get("user")  # a group membership has "group" instead
                if isinstance(person, Mapping):
                    user = self.normalize("user", partial(self.user_of, person))
                    users[user.id] = user
        return list(users.values())

    def user_of(self, raw: Mapping[str, Any]) -> User:
        return User(id=str(raw["id"]), connection_id=self.connection_id, display_name=str(raw["name"]))

    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        """Issues whose subject contains ``query`` (Redmine's ``~`` operator), most recently updated first."""
        limit = max(1, min(limit, 1000))
        request = self.issue_listing(None, True, subject=f"~{query}", sort="updated_on:desc,id:desc")
        request = PageRequest(request.url, {**request.params, "limit": min(limit, 100)})
        return self.collect_until(
            request,
            limit,
            lambda body: [
                self.normalize_issue(r)
                for r in self.expect_list(self.expect_dict(body, "search").get("issues"), "issues")
            ],
        )

    # ---- writes ----------------------------------------------------------------------------------
    def named_id(self, path: str, field: str, name: str) -> int:
        """The id of the ``name``d item of a small listing (statuses, trackers, priorities)."""
        items = self.expect_list(self.expect_dict(self.get_json(path), field).get(field), field)
        for item in items:
            if (
                str(item.get("name", "")).strip().lower() == name.strip().lower()
                or str(item.get("id")) == name
            ):
                return int(item["id"])
        raise ValidationFailed(
            f"Redmine has no {field.replace('_', ' ').rstrip('s')} named {name!r}",
            details={field: [str(i.get("name")) for i in items]},
        )

    def labels_field_id(self, raw_issue: Mapping[str, Any] | None = None) -> int:
        fields = (raw_issue or {}).get("custom_fields")
        if fields is None:
            project = self.expect_dict(
                self.get_json(
                    f"/projects/{segment(self.project)}.json", params={"include": "issue_custom_fields"}
                ),
                "project",
            )
            fields = self.expect_dict(project.get("project"), "project").get("issue_custom_fields") or []
        for field in fields:
            if str(field.get("name")) == LABELS_FIELD:
                return int(field["id"])
        raise ValidationFailed(
            f"this Redmine project has no {LABELS_FIELD!r} custom field: labels need a multi-value "
            f"list field named {LABELS_FIELD} enabled for the project",
            details={"field": LABELS_FIELD},
        )

    def user_id(self, who: str) -> int:
        if who.strip().isdigit():
            return int(who)
        for user in self.list_users():
            if (user.display_name or "").lower() == who.strip().lower():
                return int(user.id)
        raise ValidationFailed(
            f"no member of this Redmine project is called {who!r}", details={"assignee": who}
        )

    def common_fields(
        self,
        *,
        priority: str | None,
        issue_type: str | None,
        assignees: Sequence[str] | None,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if priority:
            fields["priority_id"] = self.named_id(
                "/enumerations/issue_priorities.json", "issue_priorities", priority
            )
        if issue_type:
            fields["tracker_id"] = self.named_id("/trackers.json", "trackers", issue_type)
        if assignees is not None:
            if len(assignees) > 1:
                raise ValidationFailed(
                    "a Redmine issue has one assignee", details={"assignees": list(assignees)}
                )
            fields["assigned_to_id"] = self.user_id(assignees[0]) if assignees else ""
        return fields

    def create_issue(self, draft: IssueDraft) -> Issue:
        fields: dict[str, Any] = {
            **draft.fields,
            "project_id": self.project,
            "subject": draft.title,
            "description": draft.body,
            **self.common_fields(
                priority=draft.priority, issue_type=draft.issue_type, assignees=draft.assignees or None
            ),
        }
        if draft.labels:
            fields["custom_fields"] = [{"id": self.labels_field_id(), "value": list(draft.labels)}]
        body = self.expect_dict(
            self.send_json("POST", "/issues.json", json={"issue": fields}), "created issue"
        )
        return self.normalize_issue(self.expect_dict(body.get("issue"), "created issue"))

    def write(self, key: str, fields: Mapping[str, Any]) -> None:
        """``PUT /issues/{id}.json``: absolute values, so safe to repeat; it answers 204 and no body."""
        self.request("PUT", self.issue_path(key), json={"issue": dict(fields)}, idempotent=True)

    def update_issue(self, key: str, changes: IssueChanges) -> Issue:
        fields: dict[str, Any] = {
            **changes.fields,
            **self.common_fields(priority=changes.priority, issue_type=None, assignees=changes.assignees),
        }
        if changes.title is not None:
            fields["subject"] = changes.title
        if changes.body is not None:
            fields["description"] = changes.body
        if changes.labels is not None or changes.add_labels or changes.remove_labels:
            raw = self.raw_issue(key)
            current = labels_of(raw) if changes.labels is None else list(changes.labels)
            wanted = [x for x in current if x not in changes.remove_labels]
            wanted += [x for x in changes.add_labels if x not in wanted]
            fields["custom_fields"] = [{"id": self.labels_field_id(raw), "value": wanted}]
        if fields:
            self.write(key, fields)
        return self.get_issue(key)

    def statuses(self) -> list[dict[str, Any]]:
        body = self.expect_dict(self.get_json("/issue_statuses.json"), "issue statuses")
        return [
            self.expect_dict(s, "issue status")
            for s in self.expect_list(body.get("issue_statuses"), "issue statuses")
        ]

    def list_transitions(self, key: str) -> list[Transition]:
        current = self.raw_issue(key)["status"]["id"]
        return [
            Transition(str(s["id"]), str(s["name"]), str(s["name"]), self.status_category(s))
            for s in self.statuses()
            if s["id"] != current
        ]

    def transition_issue(self, key: str, target: str) -> Issue:
        """``todo``/``in_progress``/``done``: the first status (in Redmine's order) of that category;
        else a status id or name."""
        wanted = target.strip().lower()
        statuses = self.statuses()
        chosen = next((s for s in statuses if self.status_category(s) == wanted), None) or next(
            (s for s in statuses if wanted in (str(s["id"]), str(s["name"]).lower())), None
        )
        if chosen is None:
            raise ValidationFailed(
                f"Redmine has no status {target!r} to move to",
                details={"target": target, "accepted": [str(s["name"]) for s in statuses]},
            )
        self.write(key, {"status_id": chosen["id"]})
        return self.get_issue(key)

    def add_comment(self, key: str, body: str) -> Comment:
        """A journal with ``notes``; the 204 names no id, so the issue's newest note with this text is it."""
        self.write(key, {"notes": body})
        comments = [c for c in self.list_issue_comments(key) if c.body == body]
        if not comments:
            raise NotFoundError(f"the note added to {key} is not listed", provider=self.name, status=404)
        return max(comments, key=lambda c: int(c.id))

    # ---- webhooks (the redmine_webhook plugin) ---------------------------------------------------
    @property
    def hooks_path(self) -> str:
        return f"/projects/{segment(self.project)}/webhook_settings"

    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        """Set the project's hook in the plugin's settings, the secret as the URL's userinfo password.

        The plugin posts every issue creation and update (with its journal): ``events`` cannot narrow that.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValidationFailed(
                "the webhook URL must be an absolute http(s) URL without userinfo", details={}
            )
        netloc = f"{HOOK_USER}:{quote(secret, safe='')}@{parts.netloc}"
        hook_url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        body = self.expect_dict(
            self.send_json("POST", f"{self.hooks_path}/create.json", json={"url": hook_url}), "webhook"
        )
        hook = self.expect_dict(body.get("webhook"), "webhook")
        return self.normalize(
            "webhook",
            lambda: WebhookRegistration(
                id=str(hook["id"]), url=url, events=("issues", "comments"), active=True
            ),
        )

    def unregister_webhook(self, hook_id: str) -> None:
        self.delete_if_present(f"{self.hooks_path}/{segment(hook_id)}.json")

    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        """``opened``: the issue changed; ``updated``: the issue, and its journal's note when it has one.

        The plugin's issue is not the REST shape (no ``is_closed``, raw custom fields, people by login), so
        every change asks the caller to fetch the issue or its comments. Private notes are left out, and so
        are deliveries about another project (a plugin URL copied between projects)."""
        body = obj(payload, "payload")
        action = str(body["action"])
        raw = obj(body, "issue")
        event = f"issue/{action}"
        if action not in ("opened", "updated"):
            return WebhookDelivery.ignored(self.name, delivery_id, event, f"{action} events are not synced")
        project = raw.get("project")
        if isinstance(project, Mapping) and self.project not in (
            str(project.get("identifier")),
            str(project.get("id")),
        ):
            return WebhookDelivery.ignored(self.name, delivery_id, event, f"not about {self.project}")
        number = int(raw["id"])
        ref, key = issue_ref(self.connection_id, number), f"#{number}"
        changes = [WebhookChange.of_issue(ref, key, parse_time(raw["updated_on"]))]
        journal = body.get("journal")
        if isinstance(journal, Mapping) and journal.get("notes") and not journal.get("private_notes"):
            changes.append(
                WebhookChange.of_comment(ref, key, str(journal["id"]), parse_time(journal["created_on"]))
            )
        return WebhookDelivery.of_changes(self.name, delivery_id, event, *changes)

    # ---- connection test -------------------------------------------------------------------------
    def connection_checks(self) -> Sequence[CheckStep]:
        def auth() -> ConnectionCheck:
            user = self.expect_dict(
                self.expect_dict(self.get_json("/users/current.json"), "user").get("user"), "user"
            )
            self._identity = str(user.get("login") or "") or None
            return ConnectionCheck("auth", True, f"authenticated as {self._identity}")

        def project() -> ConnectionCheck:
            body = self.expect_dict(
                self.get_json(
                    f"/projects/{segment(self.project)}.json", params={"include": "issue_custom_fields"}
                ),
                "project",
            )
            found = self.expect_dict(body.get("project"), "project")
            names = {str(f.get("name")) for f in found.get("issue_custom_fields") or []}
            labels = "labels from its Labels field" if LABELS_FIELD in names else "no Labels field: no labels"
            return ConnectionCheck(
                "project", True, f"{found.get('identifier') or self.project} reachable; {labels}"
            )

        def statuses() -> ConnectionCheck:
            closed = [s for s in self.statuses() if s.get("is_closed")]
            if not closed:
                return ConnectionCheck(
                    "statuses",
                    False,
                    "no closed issue status",
                    "Mark at least one status 'Issue closed' (Administration > Issue statuses) so "
                    "issues can be done.",
                    ErrorCode.INVALID_REQUEST,
                )
            return ConnectionCheck(
                "statuses", True, f"closed statuses: {', '.join(str(s['name']) for s in closed)}"
            )

        return (("auth", auth), ("project", project), ("statuses", statuses))


def labels_of(raw: Mapping[str, Any]) -> list[str]:
    """The values of the ``Labels`` custom field (a list for a multi-value field, else one string)."""
    for field in raw.get("custom_fields") or []:
        if isinstance(field, Mapping) and field.get("name") == LABELS_FIELD:
            value = field.get("value")
            values = value if isinstance(value, list) else [value]
            return [str(v) for v in values if v not in (None, "")]
    return []


__all__ = ["LABELS_FIELD", "REDMINE_ERROR_RULES", "RedmineAdapter", "labels_of"]
