"""The Jira sandbox's in-memory truth: compact records, Jira's fixed catalogues, deterministic seeding.

Records hold ids, account ids and epoch *milliseconds* (Jira's timestamps carry milliseconds and its
``/worklog/updated`` cursor is in ms); the REST JSON is rendered per response by ``_render``. Text
comes from small shared pools, so 100,000 issues with 3 comments each stay small and seed in seconds.

Issues live in ``issues[id - ISSUE_ID_BASE - 1]`` (``None`` once deleted); ``by_key`` maps the upper-cased
key to the id, which is how a key lookup is case-insensitive. Ids grow with creation time, so the list is
already in ``created`` order. The catalogues (statuses, issue types, priorities, resolutions, fields) are
those of a team-managed Jira Software project with the default workflow To Do -> In Progress -> Done.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from .._clock import SEED_EPOCH
from .._paging import SortedKeys
from .._seeding import draw_issue, issue_slots, next_touch, seed_person
from ._oauth import OAuthBook

SITE_NAME = "acme-sandbox"
API_EMAIL = "sandbox-bot@example.com"
OUTSIDER_EMAIL = "outsider@example.com"
API_USER_TZ = "America/Los_Angeles"  # non-UTC on purpose: bare JQL dates are read in this zone
PROJECT_ID = 10000
PROJECT_KEY = "ACME"
PROJECT_NAME = "Acme Widgets"
OPS_PROJECT_ID = 10001
OPS_PROJECT_KEY = "OPS"
OPS_PROJECT_NAME = "Operations"
BOARD_ID = 1
SPRINT_ID_BASE = 1
ISSUE_ID_BASE = 10000
COMMENT_ID_BASE = 10000
WORKLOG_ID_BASE = 10000
HISTORY_ID_BASE = 10000
ATTACHMENT_ID_BASE = 10000
ADMIN_HOOK_ID_BASE = 0
APP_HOOK_ID_BASE = 1000
SPRINT_FIELD = "customfield_10020"
AFFECTED_SERVICE_FIELD = "customfield_10050"  # a select field on the OPS project's Bug screen (_screens)
EMBEDDED_PAGE = 20  # comments/worklogs embedded in an issue's fields; the rest need their own endpoint
EMBEDDED_CHANGELOG = 40  # changelog entries a search (expand=changelog) embeds; the rest via bulkfetch
MAX_COMMENTS_PER_ISSUE = 5000


@dataclass(frozen=True, slots=True)
class StatusCategory:
    id: int
    key: str
    name: str
    color: str


@dataclass(frozen=True, slots=True)
class Status:
    id: str
    name: str
    category: int
    order: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    id: str
    name: str
    to: str  # status id


@dataclass(frozen=True, slots=True)
class IssueType:
    id: str
    name: str
    description: str
    subtask: bool
    level: int
    avatar: int


@dataclass(frozen=True, slots=True)
class Priority:
    id: str
    name: str
    color: str
    icon: str
    order: int


@dataclass(frozen=True, slots=True)
class Resolution:
    id: str
    name: str
    description: str


CATEGORIES: dict[int, StatusCategory] = {
    1: StatusCategory(1, "undefined", "No Category", "medium-gray"),
    2: StatusCategory(2, "new", "To Do", "blue-gray"),
    4: StatusCategory(4, "indeterminate", "In Progress", "yellow"),
    3: StatusCategory(3, "done", "Done", "green"),
}
TO_DO, IN_PROGRESS, DONE = "10000", "3", "10001"
STATUSES: dict[str, Status] = {
    TO_DO: Status(TO_DO, "To Do", 2, 0),
    IN_PROGRESS: Status(IN_PROGRESS, "In Progress", 4, 1, "This issue is being actively worked on."),
    DONE: Status(DONE, "Done", 3, 2),
}
# The default team-managed workflow: every status can move to every other one ("and back").
TRANSITIONS: tuple[Transition, ...] = (
    Transition("11", "To Do", TO_DO),
    Transition("21", "In Progress", IN_PROGRESS),
    Transition("31", "Done", DONE),
)
TASK, BUG, STORY, SUBTASK, EPIC = "10001", "10002", "10003", "10004", "10000"
ISSUE_TYPES: dict[str, IssueType] = {
    TASK: IssueType(TASK, "Task", "A small, distinct piece of work.", False, 0, 10318),
    BUG: IssueType(BUG, "Bug", "A problem or error.", False, 0, 10303),
    STORY: IssueType(STORY, "Story", "Functionality or a feature expressed as a user goal.", False, 0, 10315),
    SUBTASK: IssueType(
        SUBTASK, "Sub-task", "A small piece of work that's part of a larger task.", True, -1, 10316
    ),
    EPIC: IssueType(EPIC, "Epic", "A big user story that needs to be broken down.", False, 1, 10307),
}
PRIORITIES: dict[str, Priority] = {
    "1": Priority("1", "Highest", "#d04437", "highest", 0),
    "2": Priority("2", "High", "#f15C75", "high", 1),
    "3": Priority("3", "Medium", "#f79232", "medium", 2),
    "4": Priority("4", "Low", "#707070", "low", 3),
    "5": Priority("5", "Lowest", "#999999", "lowest", 4),
}
DEFAULT_PRIORITY = "3"
RESOLUTIONS: dict[str, Resolution] = {
    "10000": Resolution("10000", "Done", "Work has been completed on this issue."),
    "10001": Resolution("10001", "Won't Do", "This issue won't be actioned."),
    "10002": Resolution("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
}
DONE_RESOLUTION = "10000"


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One entry of ``GET /rest/api/3/field``."""

    id: str
    name: str
    type: str
    items: str | None = None
    clauses: tuple[str, ...] = ()
    navigable: bool = True
    orderable: bool = True
    searchable: bool = True
    custom: str | None = None  # the custom field type key; None for system fields

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.items:
            schema["items"] = self.items
        if self.custom:
            schema["custom"] = self.custom
            schema["customId"] = int(self.id.rsplit("_", 1)[-1])
        else:
            schema["system"] = self.id
        return schema


FIELDS: tuple[FieldDef, ...] = (
    FieldDef("issuekey", "Key", "string", clauses=("id", "issue", "issuekey", "key"), orderable=False),
    FieldDef("summary", "Summary", "string", clauses=("summary",)),
    FieldDef("description", "Description", "string", clauses=("description",)),
    FieldDef("status", "Status", "status", clauses=("status",), orderable=False),
    FieldDef("statusCategory", "Status Category", "statusCategory", clauses=("statusCategory",)),
    FieldDef("statuscategorychangedate", "Status Category Changed", "datetime", orderable=False),
    FieldDef("issuetype", "Issue Type", "issuetype", clauses=("issuetype", "type")),
    FieldDef("project", "Project", "project", clauses=("project",), navigable=False),
    FieldDef("priority", "Priority", "priority", clauses=("priority",)),
    FieldDef("assignee", "Assignee", "user", clauses=("assignee",)),
    FieldDef("reporter", "Reporter", "user", clauses=("reporter",)),
    FieldDef("creator", "Creator", "user", clauses=("creator",), orderable=False),
    FieldDef("labels", "Labels", "array", "string", clauses=("labels",)),
    FieldDef("created", "Created", "datetime", clauses=("created", "createdDate"), orderable=False),
    FieldDef("updated", "Updated", "datetime", clauses=("updated", "updatedDate"), orderable=False),
    FieldDef("resolution", "Resolution", "resolution", clauses=("resolution",)),
    FieldDef(
        "resolutiondate", "Resolved", "datetime", clauses=("resolutiondate", "resolved"), orderable=False
    ),
    FieldDef("duedate", "Due date", "date", clauses=("due", "duedate")),
    FieldDef("environment", "Environment", "string", clauses=("environment",)),
    FieldDef("comment", "Comment", "comments-page", clauses=("comment",), navigable=False),
    FieldDef("worklog", "Log Work", "array", "worklog", clauses=("worklogDate",), navigable=False),
    FieldDef("timetracking", "Time tracking", "timetracking", navigable=False, searchable=False),
    FieldDef("timespent", "Time Spent", "number", clauses=("timespent",), orderable=False),
    FieldDef("timeoriginalestimate", "Original estimate", "number", clauses=("originalEstimate",)),
    FieldDef("timeestimate", "Remaining Estimate", "number", clauses=("remainingEstimate",)),
    FieldDef("aggregatetimespent", "Σ Time Spent", "number", orderable=False, searchable=False),
    FieldDef("aggregatetimeoriginalestimate", "Σ Original Estimate", "number", searchable=False),
    FieldDef("aggregatetimeestimate", "Σ Remaining Estimate", "number", searchable=False),
    FieldDef("progress", "Progress", "progress", clauses=("progress",), orderable=False),
    FieldDef("aggregateprogress", "Σ Progress", "progress", orderable=False, searchable=False),
    FieldDef("workratio", "Work Ratio", "number", clauses=("workratio",), orderable=False),
    FieldDef("subtasks", "Sub-tasks", "array", "issuelinks", clauses=("subtasks",), orderable=False),
    FieldDef("parent", "Parent", "issuelink", clauses=("parent",), navigable=False),
    FieldDef("issuelinks", "Linked Issues", "array", "issuelinks", clauses=("issueLink",)),
    FieldDef("components", "Components", "array", "component", clauses=("component",)),
    FieldDef("fixVersions", "Fix versions", "array", "version", clauses=("fixVersion",)),
    FieldDef("versions", "Affects versions", "array", "version", clauses=("affectedVersion",)),
    FieldDef("attachment", "Attachment", "array", "attachment", clauses=("attachments",)),
    FieldDef("security", "Security Level", "securitylevel", clauses=("level",)),
    FieldDef("watches", "Watchers", "watches", clauses=("watchers",), orderable=False),
    FieldDef("votes", "Votes", "votes", clauses=("votes",), orderable=False),
    FieldDef("lastViewed", "Last Viewed", "datetime", clauses=("lastViewed",), orderable=False),
    FieldDef(
        SPRINT_FIELD,
        "Sprint",
        "array",
        "json",
        clauses=("cf[10020]", "Sprint", "sprint"),
        custom="com.pyxis.greenhopper.jira:gh-sprint",
    ),
    FieldDef(
        AFFECTED_SERVICE_FIELD,
        "Affected service",
        "option",
        clauses=("cf[10050]", "Affected service"),
        custom="com.atlassian.jira.plugin.system.customfieldtypes:select",
    ),
)
FIELD_IDS: frozenset[str] = frozenset(f.id for f in FIELDS)
# Fields that are not "navigable": ``*navigable`` (the old search default) leaves them out.
NON_NAVIGABLE: frozenset[str] = frozenset(f.id for f in FIELDS if not f.navigable)

_ZONES = ("Europe/Berlin", "Asia/Kolkata", "America/New_York", "UTC", "Australia/Sydney", "America/Sao_Paulo")
_SENTENCES = (
    "Steps to reproduce are in the linked run.",
    "This started after the last deploy.",
    "Seen on staging and production.",
    "The workaround is to restart the worker, which is not great.",
    "Customers reported it twice this week.",
    "Low priority, but it keeps coming back.",
    "Needs a decision from the owners before work starts.",
    "",
)
_COMMENTS = (
    "I can reproduce this.",
    "Looking into it.",
    "Fixed in the latest build, please verify.",
    "Still happens for me.",
    "Could this be related to the cache change?",
    "Closing as the fix is deployed.",
    "Added a test for it.",
)
_WORK = ("Investigation", "Implementation", "Code review", "Testing", "")
_LABELS = ("backend", "frontend", "customer", "tech-debt", "security", "performance")


@dataclass(slots=True)
class User:
    account_id: str
    display_name: str
    email: str | None
    time_zone: str
    account_type: str = "atlassian"
    active: bool = True
    locale: str = "en_US"


@dataclass(slots=True)
class Project:
    id: int
    key: str
    name: str
    lead: str
    description: str
    next_number: int = 1


@dataclass(slots=True)
class History:
    """One changelog entry; ``items`` are ``(field, fieldId, from, fromString, to, toString)``."""

    id: int
    author: str
    created: int
    items: list[tuple[str, str, str | None, str | None, str | None, str | None]]


@dataclass(slots=True)
class Issue:
    id: int
    project_id: int
    number: int
    summary: str
    description: Any  # str (seeded plain text), an ADF dict (written through the API) or None
    type_id: str
    status_id: str
    priority_id: str
    reporter: str
    creator: str
    assignee: str | None
    labels: list[str]
    created: int
    updated: int
    status_changed: int
    resolution_id: str | None = None
    resolved: int | None = None
    parent_id: int | None = None
    sprint_id: int | None = None
    due: str | None = None
    environment: Any = None
    original_estimate: int | None = None
    comments: list[int] = field(default_factory=list)
    worklogs: list[int] = field(default_factory=list)
    properties: dict[str, Any] | None = None
    histories: list[History] | None = None
    attachments: list[int] | None = None  # most issues have none: no list until the first one
    custom: dict[str, str | None] | None = None  # select custom field id -> option id (_screens), when set


@dataclass(slots=True)
class Attachment:
    id: int
    issue_id: int
    filename: str
    author: str
    created: int
    mime_type: str
    content: bytes


@dataclass(slots=True)
class Comment:
    id: int
    issue_id: int
    author: str
    body: Any  # str or ADF dict
    created: int
    updated: int
    update_author: str
    visibility: dict[str, Any] | None = None


@dataclass(slots=True)
class Worklog:
    id: int
    issue_id: int
    author: str
    update_author: str
    comment: Any  # str, ADF dict or None
    started: int
    seconds: int
    created: int
    updated: int


@dataclass(slots=True)
class Sprint:
    id: int
    board_id: int
    name: str
    state: str  # future | active | closed
    start: int | None
    end: int | None
    complete: int | None
    created: int
    goal: str


@dataclass(slots=True)
class Board:
    id: int
    name: str
    type: str
    project_id: int


@dataclass(slots=True)
class AdminHook:
    """Registered with ``/rest/webhooks/1.0/webhook`` (or the admin UI): optional HMAC secret."""

    id: int
    name: str
    url: str
    events: list[str]
    jql: str | None
    exclude_body: bool
    secret: str | None
    enabled: bool
    updated: int
    updated_by: str


@dataclass(slots=True)
class AppHook:
    """Registered by an OAuth app with ``POST /rest/api/3/webhook``: expires, JWT-signed deliveries."""

    id: int
    client_id: str
    account_id: str
    url: str
    events: list[str]
    jql: str
    field_ids: list[str] | None
    property_keys: list[str] | None
    expires: int  # epoch ms


@dataclass(slots=True)
class JiraState:
    cloud_id: str
    users: dict[str, User] = field(default_factory=dict)
    api_user: str = ""
    outsider: str = ""
    projects: dict[int, Project] = field(default_factory=dict)
    issues: list[Issue | None] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    worklogs: dict[int, Worklog] = field(default_factory=dict)
    worklogs_by_updated: SortedKeys = field(default_factory=SortedKeys)
    deleted_worklogs: list[tuple[int, int]] = field(default_factory=list)  # (deleted ms, id), in order
    sprints: dict[int, Sprint] = field(default_factory=dict)
    boards: dict[int, Board] = field(default_factory=dict)
    admin_hooks: dict[int, AdminHook] = field(default_factory=dict)
    app_hooks: dict[int, AppHook] = field(default_factory=dict)
    attachments: dict[int, Attachment] = field(default_factory=dict)
    oauth: OAuthBook = field(default_factory=OAuthBook)
    next_comment_id: int = COMMENT_ID_BASE
    next_attachment_id: int = ATTACHMENT_ID_BASE
    next_worklog_id: int = WORKLOG_ID_BASE
    next_history_id: int = HISTORY_ID_BASE
    next_admin_hook_id: int = ADMIN_HOOK_ID_BASE + 1
    next_app_hook_id: int = APP_HOOK_ID_BASE + 1
    last_worklog_ms: int = 0
    created_at: int = (SEED_EPOCH - 3 * 365 * 86_400) * 1000

    # ------------------------------------------------------------------ lookups

    def issue(self, issue_id: int) -> Issue | None:
        index = issue_id - ISSUE_ID_BASE - 1
        if 0 <= index < len(self.issues):
            return self.issues[index]
        return None

    def find(self, id_or_key: str) -> Issue | None:
        """By numeric id or (case-insensitive) key, as Jira resolves ``{issueIdOrKey}``."""
        text = id_or_key.strip()
        if text.isdigit():
            return self.issue(int(text))
        issue_id = self.by_key.get(text.upper())
        return self.issue(issue_id) if issue_id is not None else None

    def key(self, issue: Issue) -> str:
        return f"{self.projects[issue.project_id].key}-{issue.number}"

    def project_by_key_or_id(self, value: str) -> Project | None:
        text = value.strip()
        if text.isdigit():
            return self.projects.get(int(text))
        for project in self.projects.values():
            if project.key.upper() == text.upper():
                return project
        return None

    def live_issues(self) -> list[Issue]:
        return [issue for issue in self.issues if issue is not None]

    def children(self, issue: Issue) -> list[Issue]:
        """Sub-tasks of ``issue``: a scan of the issues created after it (a child always comes later)."""
        found = []
        start = issue.id - ISSUE_ID_BASE
        for other in self.issues[start:]:
            if other is not None and other.parent_id == issue.id:
                found.append(other)
        return found

    # ------------------------------------------------------------------ writes (callers bump the version)

    def add_issue(self, issue: Issue) -> None:
        self.issues.append(issue)
        self.by_key[self.key(issue).upper()] = issue.id

    def remove_issue(self, issue: Issue, now_ms: int) -> list[Comment]:
        """Drop the issue with its comments and worklogs; returns the comments (for their webhooks)."""
        self.issues[issue.id - ISSUE_ID_BASE - 1] = None
        self.by_key.pop(self.key(issue).upper(), None)
        dropped = [self.comments.pop(cid) for cid in issue.comments if cid in self.comments]
        for attachment_id in issue.attachments or ():
            self.attachments.pop(attachment_id, None)
        for worklog_id in issue.worklogs:
            self.drop_worklog(worklog_id, now_ms)
        return dropped

    def new_comment_id(self) -> int:
        self.next_comment_id += 1
        return self.next_comment_id

    def new_history_id(self) -> int:
        self.next_history_id += 1
        return self.next_history_id

    def unique_worklog_ms(self, now_ms: int) -> int:
        """A unique worklog time, so the ``/worklog/updated`` cursor (strictly after ``since``) loses none."""
        at = max(now_ms, self.last_worklog_ms + 1)
        self.last_worklog_ms = at
        return at

    def add_worklog(self, worklog: Worklog) -> None:
        self.worklogs[worklog.id] = worklog
        self.worklogs_by_updated.add((worklog.updated, worklog.id))

    def touch_worklog(self, worklog: Worklog, at: int) -> None:
        self.worklogs_by_updated.replace((worklog.updated, worklog.id), (at, worklog.id))
        worklog.updated = at

    def drop_worklog(self, worklog_id: int, now_ms: int) -> Worklog | None:
        worklog = self.worklogs.pop(worklog_id, None)
        if worklog is not None:
            self.worklogs_by_updated.remove((worklog.updated, worklog.id))
            self.deleted_worklogs.append((self.unique_worklog_ms(now_ms), worklog.id))
        return worklog


def _account_id(seed: str, name: str) -> str:
    # The modern Atlassian account id shape: "712020:" + a UUID; stable per seed and name.
    return "712020:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"jira-sandbox/{seed}/{name}"))


def cloud_id_for(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jira-sandbox/{seed}/cloud"))


def seed_state(
    rng: random.Random,
    *,
    seed: str,
    issues: int,
    comments_per_issue: int,
    closed_ratio: float,
    worklogs_per_issue: int,
    users: int,
    sprints: int,
) -> JiraState:
    """Project ACME with ``issues`` issues (every 10th a sub-task of the one before), their comments and
    worklogs, ``users`` people, one scrum board with ``sprints`` sprints, and an empty project OPS.

    Only ``rng``, ``seed`` and ``SEED_EPOCH`` decide the content, so one seed always gives the same state.
    """
    state = JiraState(cloud_id=cloud_id_for(seed))
    bot = User(_account_id(seed, "api-user"), "Sandbox Bot", API_EMAIL, API_USER_TZ)
    state.users[bot.account_id] = bot
    state.api_user = bot.account_id
    people = [bot.account_id]
    for index in range(users):
        person = seed_person(index)
        login = person.handle(".")
        # Jira hides most people's e-mail address (profile visibility); every third one shows it.
        email = f"{login}@example.com" if index % 3 == 0 else None
        user = User(
            _account_id(seed, login),
            f"{person.name}{person.suffix}",
            email,
            _ZONES[index % len(_ZONES)],
        )
        state.users[user.account_id] = user
        people.append(user.account_id)
    outsider = User(_account_id(seed, "outsider"), "Out Sider", OUTSIDER_EMAIL, "Europe/London")
    state.users[outsider.account_id] = outsider
    state.outsider = outsider.account_id
    state.projects[PROJECT_ID] = Project(
        PROJECT_ID, PROJECT_KEY, PROJECT_NAME, bot.account_id, "The widgets team"
    )
    state.projects[OPS_PROJECT_ID] = Project(
        OPS_PROJECT_ID, OPS_PROJECT_KEY, OPS_PROJECT_NAME, bot.account_id, "Operational tasks"
    )
    state.boards[BOARD_ID] = Board(BOARD_ID, f"{PROJECT_KEY} board", "scrum", PROJECT_ID)

    base = state.created_at
    # Sprints: two weeks each, the last ones active then future; the rest closed, ending before SEED_EPOCH.
    sprint_len = 14 * 86_400_000
    for index in range(sprints):
        sprint_id = SPRINT_ID_BASE + index
        from_end = sprints - index  # 1 = last
        state_name = "future" if from_end == 1 and sprints > 1 else "active" if from_end <= 2 else "closed"
        start = SEED_EPOCH * 1000 - (from_end + 1) * sprint_len
        sprint = Sprint(
            sprint_id,
            BOARD_ID,
            f"{PROJECT_KEY} Sprint {index + 1}",
            state_name,
            None if state_name == "future" else start,
            None if state_name == "future" else start + sprint_len,
            start + sprint_len if state_name == "closed" else None,
            start - 86_400_000,
            f"Sprint goal {index + 1}",
        )
        state.sprints[sprint_id] = sprint
    sprint_ids = list(state.sprints)

    step, gap = issue_slots(
        base, SEED_EPOCH * 1000 - 86_400_000, issues, comments_per_issue + worklogs_per_issue
    )
    randrange = rng.randrange
    random_ = rng.random
    type_cycle = (TASK, TASK, BUG, STORY)
    priorities = list(PRIORITIES)
    comments = state.comments
    issue_list = state.issues
    by_key = state.by_key
    next_comment = state.next_comment_id
    next_worklog = state.next_worklog_id
    next_history = state.next_history_id
    worklog_keys: list[tuple[int, int]] = []
    worklogs = state.worklogs
    prev_worklog_ms = 0
    for number in range(1, issues + 1):
        issue_id = ISSUE_ID_BASE + number
        created = base + number * step
        draw = draw_issue(rng, people, _SENTENCES, _LABELS, 0.7)
        reporter = draw.author
        subtask = number % 10 == 0
        last_touch = created
        comment_ids: list[int] = []
        for _ in range(comments_per_issue):
            last_touch = next_touch(randrange, last_touch, gap, created + step - 1, tick=1000)
            next_comment += 1
            author = people[randrange(len(people))]
            comments[next_comment] = Comment(
                next_comment,
                issue_id,
                author,
                _COMMENTS[randrange(len(_COMMENTS))],
                last_touch,
                last_touch,
                author,
            )
            comment_ids.append(next_comment)
        worklog_ids: list[int] = []
        for _ in range(worklogs_per_issue):
            last_touch = next_touch(randrange, last_touch, gap, created + step - 1, tick=1000)
            next_worklog += 1
            author = people[randrange(len(people))]
            # Unique update times (ms) keep the /worklog/updated cursor exact.
            updated = prev_worklog_ms = max(last_touch, prev_worklog_ms + 1)
            worklogs[next_worklog] = Worklog(
                next_worklog,
                issue_id,
                author,
                author,
                _WORK[randrange(len(_WORK))] or None,
                last_touch - 3_600_000,
                900 * (1 + randrange(16)),
                updated,
                updated,
            )
            worklog_keys.append((updated, next_worklog))
            worklog_ids.append(next_worklog)
        updated = min(last_touch + randrange(3_600_000), SEED_EPOCH * 1000 - 1)
        roll = random_()
        status = DONE if roll < closed_ratio else IN_PROGRESS if roll < closed_ratio + 0.2 else TO_DO
        issue = Issue(
            issue_id,
            PROJECT_ID,
            number,
            f"{draw.title} ({PROJECT_KEY}-{number})",
            draw.body,
            SUBTASK if subtask else type_cycle[number % len(type_cycle)],
            status,
            priorities[randrange(len(priorities))],
            reporter,
            reporter,
            draw.assignee,
            draw.labels,
            created,
            updated,
            updated if status != TO_DO else created,
            parent_id=issue_id - 1 if subtask else None,
            sprint_id=sprint_ids[randrange(len(sprint_ids))] if sprint_ids and random_() < 0.5 else None,
            original_estimate=3600 * (1 + randrange(16)) if random_() < 0.3 else None,
            comments=comment_ids,
            worklogs=worklog_ids,
        )
        if status == DONE:
            issue.resolution_id = DONE_RESOLUTION if random_() < 0.85 else "10001"
            issue.resolved = updated
        next_history = _seed_histories(state, issue, next_history)
        issue_list.append(issue)
        by_key[f"{PROJECT_KEY}-{number}"] = issue_id
    state.projects[PROJECT_ID].next_number = issues + 1
    state.next_comment_id = next_comment
    state.next_worklog_id = next_worklog
    state.next_history_id = next_history
    state.worklogs_by_updated = SortedKeys(worklog_keys)
    state.last_worklog_ms = prev_worklog_ms
    return state


_Item = tuple[str, str, str | None, str | None, str | None, str | None]


def _seed_histories(state: JiraState, issue: Issue, next_id: int) -> int:
    """The changelog a seeded issue's state implies, derived without drawing from the rng (so the rest of
    the seeded data stays what it was): its assignment a quarter of the way from ``created`` to its last
    update, and its workflow (To Do -> In Progress halfway, -> Done at the update, when it got that far).
    Returns the last history id used."""
    span = issue.updated - issue.created
    entries: list[tuple[int, str, list[_Item]]] = []
    if issue.assignee is not None:
        name = state.users[issue.assignee].display_name if issue.assignee in state.users else None
        item = ("assignee", "assignee", None, None, issue.assignee, name)
        entries.append((issue.created + span // 4, issue.reporter, [item]))
    if issue.status_id != TO_DO:
        middle = issue.created + span // 2 if issue.status_id == DONE else issue.updated
        entries.append((middle, issue.reporter, [_status_item(TO_DO, IN_PROGRESS)]))
        if issue.status_id == DONE:
            entries.append((issue.updated, issue.reporter, [_status_item(IN_PROGRESS, DONE)]))
    if not entries:
        return next_id
    histories = issue.histories = []
    for created, author, items in entries:
        next_id += 1
        histories.append(History(next_id, author, created, items))
    return next_id


def _status_item(old: str, new: str) -> _Item:
    return ("status", "status", old, STATUSES[old].name, new, STATUSES[new].name)
