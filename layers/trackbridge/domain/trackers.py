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
TrackerName = Literal["github", "gitlab", "jira", "linear", "youtrack", "redmine", "azure_devops"]
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
    entities=(*_SYNCED, "advisories", "users", "activity"),
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
    entities=(*_SYNCED, "users", "activity"),
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
    # worklogs and changelogs: opt-in, from the worklog feed and bulk changelogs (runtime.sync.jira_syncers).
    entities=(*_SYNCED, "sprints", "users", "worklogs", "changelogs"),
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

# A Linear team key ("ENG", "OPS2"): Linear's issue identifiers are "<team key>-<number>". The key goes into
# the GraphQL filter as a variable, never into the query text; letters and digits, upper case, 1 to 7.
_LINEAR_TEAM_KEY = re.compile(r"[A-Z][A-Z0-9]{0,6}")


def is_linear_team_key(value: object) -> bool:
    """True when ``value`` is a Linear team key (``ENG``): exactly, no blanks."""
    return isinstance(value, str) and _LINEAR_TEAM_KEY.fullmatch(value) is not None


LINEAR: Final = TrackerSpec(
    name="linear",
    display_name="Linear",
    # The GraphQL endpoint is {base_url}/graphql (https://api.linear.app/graphql).
    default_base_url="https://api.linear.app",
    scope=ScopeRule(
        keys=("team",),
        shape_message='linear needs {"team": "<team key such as ENG>"} and nothing else',
        value_rules=(
            ScopeValueRule(
                "team",
                is_linear_team_key,
                "linear team must be a team key such as ENG: an uppercase letter, then uppercase letters "
                "or digits, 1 to 7 characters",
            ),
        ),
    ),
    # A personal API key, sent as "Authorization: <key>" (no Bearer prefix).
    credentials=TokenCredentials,
    auth_modes=("token",),
    entities=_SYNCED,
    incremental_overlap=timedelta(seconds=10),
    overlap_reason="updatedAt filters compare Linear's own millisecond timestamps (gte): a small margin "
    "for replication lag between Linear's write and read paths is enough.",
    # WorkflowState.type: a team names its states freely, their type is one of these.
    status_categories=MappingProxyType(
        {
            "triage": "todo",
            "backlog": "todo",
            "unstarted": "todo",
            "started": "in_progress",
            "completed": "done",
            "canceled": "done",
        }
    ),
    locator="{base_url}/teams/{team}",
)

# A YouTrack project ID (its shortName, the prefix of issue ids such as "ACME-12"): a letter, then letters,
# digits or underscores, as YouTrack's project form allows. It goes into search queries and commands.
_YOUTRACK_PROJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")


def is_youtrack_project(value: object) -> bool:
    """True when ``value`` is a YouTrack project ID (``ACME``, ``Web_2``): exactly, no blanks."""
    return isinstance(value, str) and _YOUTRACK_PROJECT.fullmatch(value) is not None


YOUTRACK: Final = TrackerSpec(
    name="youtrack",
    display_name="YouTrack",
    # Each customer has an instance (https://<name>.youtrack.cloud, or a server with a /youtrack path).
    default_base_url=None,
    scope=ScopeRule(
        keys=("project",),
        shape_message='youtrack needs {"project": "<project ID such as ACME>"} and nothing else',
        value_rules=(
            ScopeValueRule(
                "project",
                is_youtrack_project,
                "youtrack project must be a project ID such as ACME: a letter, then letters, digits or _",
            ),
        ),
    ),
    # A permanent token ("perm:..."), sent as "Authorization: Bearer <token>".
    credentials=TokenCredentials,
    auth_modes=("token",),
    entities=_SYNCED,
    incremental_overlap=timedelta(minutes=2),
    overlap_reason="The search query's 'updated: <date>T<time> .. *' compares whole minutes: one whole "
    "minute plus clock skew.",
    # The State field's value names (YouTrack's default workflow); the adapter takes done from the value's
    # isResolved flag first, so a renamed resolved state is still done.
    status_categories=MappingProxyType(
        {
            "submitted": "todo",
            "open": "todo",
            "reopened": "todo",
            "unresolved": "todo",
            "in progress": "in_progress",
            "to be discussed": "in_progress",
            "fixed": "done",
            "verified": "done",
            "won't fix": "done",
            "can't reproduce": "done",
            "duplicate": "done",
            "obsolete": "done",
            "incomplete": "done",
            "resolved": "done",
        }
    ),
    locator="{base_url}/projects/{project}",
)

# A Redmine project: its identifier ("ops-tools": lower-case letters, digits, "-" and "_", at most 100, not
# digits alone) or its numeric id; the API takes either as project_id. It goes into URLs and query strings.
_REDMINE_PROJECT = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


def is_redmine_project(value: object) -> bool:
    """True when ``value`` is a Redmine project identifier or numeric id (``ops``, ``web-2``, ``12``)."""
    return isinstance(value, str) and _REDMINE_PROJECT.fullmatch(value) is not None


REDMINE: Final = TrackerSpec(
    name="redmine",
    display_name="Redmine",
    # Self-hosted (or a hosting provider's instance): every connection names its own base URL.
    default_base_url=None,
    scope=ScopeRule(
        keys=("project",),
        shape_message='redmine needs {"project": "<project identifier or id>"} and nothing else',
        value_rules=(
            ScopeValueRule(
                "project",
                is_redmine_project,
                "redmine project must be a project identifier such as ops-tools (lower-case letters, "
                "digits, - and _) or its numeric id",
            ),
        ),
    ),
    # An API access key (My account > API access key), sent as "X-Redmine-API-Key".
    credentials=TokenCredentials,
    auth_modes=("token",),
    entities=_SYNCED,
    incremental_overlap=timedelta(seconds=10),
    overlap_reason="updated_on>= compares whole seconds of Redmine's own clock, and a new journal (comment) "
    "bumps the issue's updated_on in the same save: a small margin is enough.",
    # Status names of Redmine's default configuration; the adapter takes done from the status's is_closed
    # flag first, so an instance's own closed statuses are done whatever they are called ("Resolved" is
    # open by default in Redmine, so it is not listed: another tracker's "resolved" means done).
    status_categories=MappingProxyType(
        {
            "new": "todo",
            "in progress": "in_progress",
            "feedback": "in_progress",
            "closed": "done",
            "rejected": "done",
        }
    ),
    locator="{base_url}/projects/{project}",
)

# An Azure DevOps "organization/project": the organization as dev.azure.com names it (letters, digits and
# hyphens, 1 to 50, no hyphen at either end), the project by name (1 to 64 characters, none of
# \ / : * ? " < > | ; # $ { } , + = [ ], not starting with "_" or ".", not ending with "."; spaces allowed).
# Both go into URL paths (percent-encoded by the adapter) and the project into WIQL (quoted).
_ADO_ORGANIZATION = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?"
_ADO_PROJECT = r"(?![_.])[^\\/:*?\"<>|;#${},+=\[\]\x00-\x1f]{0,63}[^\\/:*?\"<>|;#${},+=\[\]\x00-\x1f.]"
_ADO_SCOPE = re.compile(rf"({_ADO_ORGANIZATION})/({_ADO_PROJECT})")


def azure_devops_scope(value: object) -> tuple[str, str] | None:
    """(organization, project) of an Azure DevOps scope value (``acme/Widgets``), or None."""
    found = _ADO_SCOPE.fullmatch(value) if isinstance(value, str) else None
    return (found.group(1), found.group(2)) if found else None


AZURE_DEVOPS: Final = TrackerSpec(
    name="azure_devops",
    display_name="Azure DevOps Boards",
    # Per-organization URLs hang below it: {base_url}/{organization}/{project}/_apis/...
    default_base_url="https://dev.azure.com",
    scope=ScopeRule(
        keys=("project",),
        shape_message='azure_devops needs {"project": "<organization>/<project>"} and nothing else',
        value_rules=(
            ScopeValueRule(
                "project",
                lambda value: azure_devops_scope(value) is not None,
                "azure_devops project must be <organization>/<project name>, such as acme/Widgets",
            ),
        ),
    ),
    # A personal access token (Basic auth, empty user) or a Microsoft Entra ID access token (a JWT: Bearer).
    credentials=TokenCredentials,
    auth_modes=("token",),
    entities=_SYNCED,
    incremental_overlap=timedelta(seconds=30),
    overlap_reason="WIQL with timePrecision=true compares System.ChangedDate to whole seconds (without it, "
    "to whole days): the mark is floored to the second, plus margin for the query index behind a save.",
    # The state *category* of the item's work item type (Proposed, InProgress, Resolved, Completed,
    # Removed): processes name states freely, their category is fixed. Removed is done, not deleted: the
    # item still exists and can be reactivated (deletion is the recycle bin, workitem.deleted).
    status_categories=MappingProxyType(
        {
            "proposed": "todo",
            "inprogress": "in_progress",
            "resolved": "done",
            "completed": "done",
            "removed": "done",
        }
    ),
    locator="{base_url}/{project}",
)

TRACKERS: Final[Mapping[str, TrackerSpec]] = MappingProxyType(
    {t.name: t for t in (GITHUB, GITLAB, JIRA, LINEAR, YOUTRACK, REDMINE, AZURE_DEVOPS)}
)
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
    "LINEAR",
    "REDMINE",
    "TRACKERS",
    "TRACKER_NAMES",
    "YOUTRACK",
    "AuthMode",
    "Entity",
    "ScopeRule",
    "ScopeValueRule",
    "StatusCategory",
    "TrackerName",
    "TrackerSpec",
    "is_jira_project_key",
    "is_linear_team_key",
    "is_redmine_project",
    "is_youtrack_project",
    "supported",
    "tracker",
]
