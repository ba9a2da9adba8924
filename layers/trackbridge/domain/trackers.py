"""Every tracker trackbridge speaks, declared once: what a connection to it needs and how its data reads.

One :class:`TrackerSpec` per tracker, in :data:`TRACKERS`. The rest of trackbridge reads it instead of
branching on a provider name:

- the connection models (:mod:`trackbridge.domain.connections`): the provider enum, the scope rule and its
  messages, the credential model, whether OAuth is allowed, the entities a connection may ask for, and the
  locator of external ids;
- the status vocabulary (:func:`trackbridge.domain.issues.status_category_of`);
- the adapters (:mod:`trackbridge.providers`): each adapter class names its spec (``tracker = GITHUB``) and
  takes its name, display name, scope keys, default base URL and incremental overlap from it;
- the runtime: the OAuth flow's provider check, the bulk concurrency.

Pure data: no I/O, nothing imported from an outer layer. Adding a tracker starts here
(``layers/trackbridge/providers/README.md`` has the whole checklist).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Final, Literal, get_args

from trackbridge.domain.credentials import JiraCredentials, TokenCredentials
from trackbridge.domain.errors import ValidationFailed

# The provider value of a connection. A Literal so that the API schema shows the names as an enum and mypy
# checks them; tests/unit/test_tracker_declarations.py holds it equal to TRACKERS' keys.
TrackerName = Literal["github", "gitlab", "jira"]
# Every entity trackbridge has a model for; a tracker declares the ones it syncs (TrackerSpec.entities).
Entity = Literal["issues", "comments", "worklogs", "changelogs", "sprints", "users", "advisories", "activity"]
StatusCategory = Literal["todo", "in_progress", "done"]
# How a connection authenticates: a token (GitHub, GitLab), e-mail + API token (Jira's basic auth), or
# OAuth 2.0, whose tokens arrive after the connection is created.
AuthMode = Literal["token", "basic", "oauth"]


@dataclass(frozen=True, slots=True)
class ScopeValueRule:
    """A value of one scope key that must pass ``accepts``; ``message`` says what a good one looks like."""

    key: str
    accepts: Callable[[str], bool]
    message: str


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """A connection's scope holds exactly one of ``keys`` (``shape_message`` otherwise), and each value
    passes the rules of its key."""

    keys: tuple[str, ...]
    shape_message: str
    value_rules: tuple[ScopeValueRule, ...] = ()

    def problem(self, values: Mapping[str, str | None]) -> str | None:
        """What is wrong with a scope of ``values`` (``None`` for an absent key), or ``None``."""
        given = {key for key, value in values.items() if value is not None}
        if len(given) != 1 or not given <= set(self.keys):
            return self.shape_message
        for rule in self.value_rules:
            value = values.get(rule.key)
            if value is not None and not rule.accepts(value):
                return rule.message
        return None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TrackerSpec:
    """One tracker's declaration. Specs are singletons: compared by identity."""

    name: TrackerName
    display_name: str
    # None when each tenant has its own site (Jira Cloud).
    default_base_url: str | None
    scope: ScopeRule
    # The credentials a connection stores (token or basic auth); OAuth ones are in auth_modes.
    credentials: type[TokenCredentials] | type[JiraCredentials]
    auth_modes: tuple[AuthMode, ...]
    # What a connection may ask to sync: only entities the sync engine syncs for this tracker.
    entities: tuple[Entity, ...]
    # How far back an incremental pass reaches before the stored high-water mark (DESIGN section 10), and
    # why that far: the precision of the tracker's "updated since" filter, its lazy updated_at bumps.
    incremental_overlap: timedelta
    overlap_reason: str
    # The tracker's raw state or status category (lower case) -> trackbridge's category.
    status_categories: Mapping[str, StatusCategory]
    # The base_url_or_repo_url part of external ids: a template over base_url and scope keys, used when
    # every key it names is set; otherwise the connection's site_url, else its base_url.
    locator: str | None = None
    # Threads per bulk request.
    bulk_concurrency: int = 4

    @property
    def allows_oauth(self) -> bool:
        return "oauth" in self.auth_modes

    def status_category(self, raw: str) -> StatusCategory:
        """The category of ``raw`` (any case, surrounding blanks ignored); an unknown state is todo."""
        return self.status_categories.get(raw.strip().lower(), "todo")

    def locate(self, base_url: str, scope: Mapping[str, str | None], site_url: str | None = None) -> str:
        """Where the issues live, as external ids spell it (byte for byte: ids must never change)."""
        if self.locator is not None:
            fields = {field for _, field, _, _ in string.Formatter().parse(self.locator) if field}
            values = {"base_url": base_url, **{key: value for key, value in scope.items() if value}}
            if fields <= values.keys():
                return self.locator.format(**values)
        return site_url or base_url


# GitLab: a numeric project id or a namespaced path ("group/sub/project").
_GITLAB_PROJECT = re.compile(r"\d{1,20}|[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){1,20}")

# A Jira project key, the one rule the connection model and the Jira adapter share. Atlassian's format:
# "the first character must be a letter, all letters ... upper case, only letters, numbers or the underscore"
# ("Changing the project key format", Jira admin docs), and Jira Cloud's REST API: "start with an uppercase
# letter followed by one or more uppercase alphanumeric characters. The maximum length is 10 characters"
# (POST/PUT /rest/api/3/project, ``key``). So 2 to 10 characters. The key goes into URL paths and JQL.
JIRA_PROJECT_KEY_MAX: Final = 10
_JIRA_PROJECT_KEY = re.compile(rf"[A-Z][A-Z0-9_]{{1,{JIRA_PROJECT_KEY_MAX - 1}}}")


def is_jira_project_key(value: object) -> bool:
    """True when ``value`` is a Jira project key (``OPS``, ``R2D2``, ``MY_TEAM``): exactly, no blanks."""
    return isinstance(value, str) and _JIRA_PROJECT_KEY.fullmatch(value) is not None


def _is_gitlab_project(value: str) -> bool:
    return _GITLAB_PROJECT.fullmatch(value) is not None


# Issues and comments are what the sync engine syncs today (runtime.sync.syncers.syncable_entities);
# worklogs, sprints and users have models and adapter operations, and join a tracker's entities when a
# syncer syncs them.
_SYNCED: Final[tuple[Entity, ...]] = ("issues", "comments")

GITHUB: Final = TrackerSpec(
    name="github",
    display_name="GitHub",
    default_base_url="https://api.github.com",
    scope=ScopeRule(keys=("repo",), shape_message='github needs {"repo": "owner/name"} and nothing else'),
    credentials=TokenCredentials,
    auth_modes=("token",),
    # Repository security advisories, synced as issues of type Bug when a connection asks for them.
    entities=(*_SYNCED, "advisories"),
    incremental_overlap=timedelta(seconds=10),
    overlap_reason="since= is second-precise and compares GitHub's own timestamps: a small margin is enough.",
    status_categories=MappingProxyType({"open": "todo", "closed": "done"}),
    locator="{base_url}/repos/{repo}",
    # GitHub's secondary limits punish concurrent content-creating requests.
    bulk_concurrency=1,
)

GITLAB: Final = TrackerSpec(
    name="gitlab",
    display_name="GitLab",
    default_base_url="https://gitlab.com",
    scope=ScopeRule(
        keys=("project",),
        shape_message='gitlab needs {"project": "<numeric id or group/path>"} and nothing else',
        value_rules=(
            ScopeValueRule(
                "project",
                _is_gitlab_project,
                "gitlab project must be a numeric id or a path such as group/project",
            ),
        ),
    ),
    credentials=TokenCredentials,
    auth_modes=("token",),
    entities=_SYNCED,
    incremental_overlap=timedelta(minutes=2),
    overlap_reason="A new note bumps the issue's updated_at only when it is over 60 s old (ThrottledTouch): "
    "reach back past that, plus margin, so note-driven updates are never missed.",
    # Webhooks report a reopened issue's state as "reopened".
    status_categories=MappingProxyType({"opened": "todo", "reopened": "todo", "closed": "done"}),
    locator="{base_url}/projects/{project}",
)

JIRA: Final = TrackerSpec(
    name="jira",
    display_name="Jira Cloud",
    default_base_url=None,
    scope=ScopeRule(
        keys=("project", "jql"),
        shape_message='jira needs either {"project": "KEY"} or {"jql": "..."}',
        value_rules=(
            ScopeValueRule(
                "project",
                is_jira_project_key,
                "jira project must be a project key such as OPS: an uppercase letter, then "
                f"uppercase letters, digits or _, 2 to {JIRA_PROJECT_KEY_MAX} characters",
            ),
        ),
    ),
    credentials=JiraCredentials,
    auth_modes=("basic", "oauth"),
    entities=_SYNCED,
    incremental_overlap=timedelta(minutes=2),
    overlap_reason="JQL compares whole minutes in the account's time zone (the query floors to the minute): "
    "one whole minute plus clock skew.",
    # Jira's statusCategory.key: a workflow may name its statuses anything, their category is fixed.
    status_categories=MappingProxyType(
        {"new": "todo", "undefined": "todo", "indeterminate": "in_progress", "done": "done"}
    ),
    # Under OAuth base_url is Atlassian's API gateway; ids keep the site people browse (Connection.site_url).
    locator=None,
)

TRACKERS: Final[Mapping[str, TrackerSpec]] = MappingProxyType({t.name: t for t in (GITHUB, GITLAB, JIRA)})
TRACKER_NAMES: Final[tuple[TrackerName, ...]] = get_args(TrackerName)


def supported() -> list[str]:
    """The tracker names, sorted: what an error about an unknown provider lists."""
    return sorted(TRACKERS)


def tracker(name: str) -> TrackerSpec:
    """The declaration of ``name``; ValidationFailed (422) listing the supported trackers otherwise."""
    try:
        return TRACKERS[name]
    except (KeyError, TypeError):
        raise ValidationFailed(
            f"unknown provider {name!r}; supported: {', '.join(supported())}",
            details={"provider": name, "supported": supported()},
        ) from None


__all__ = [
    "GITHUB",
    "GITLAB",
    "JIRA",
    "JIRA_PROJECT_KEY_MAX",
    "TRACKERS",
    "TRACKER_NAMES",
    "AuthMode",
    "Entity",
    "ScopeRule",
    "ScopeValueRule",
    "StatusCategory",
    "TrackerName",
    "TrackerSpec",
    "is_jira_project_key",
    "supported",
    "tracker",
]
