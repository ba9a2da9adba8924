"""The GitLab sandbox's in-memory truth: compact records, deterministic seeding, and the indexes lists use.

Records hold what changes or identifies (iids, usernames, epoch-millisecond timestamps); the GitLab JSON is
rendered per response by ``_render``. GitLab timestamps carry milliseconds
(``2024-01-01T12:00:00.123Z``), so every time here is an integer of epoch milliseconds and seeded items get a
random millisecond part: a client that drops the fraction shows up in the tests.

``issues[iid - 1]`` is the issue with that iid (``None`` once deleted). Issue ids are ``ISSUE_ID_BASE + iid``
and iids grow with ``created_at``, so ``order_by=id`` and ``order_by=created_at`` are both iid order, and
``by_updated`` orders ``(updated_at, iid)`` for ``order_by=updated_at`` and ``updated_after``. Notes are kept
per issue in creation order (note ids grow with time, as GitLab's do).

What GitLab stores where matters to a sync: closing or reopening an issue writes a *resource state event*, not
a note, and label changes write resource label events (``SystemNotes::IssuablesService#change_status`` calls
``create_resource_state_event``), so the notes API shows system notes only for title, description, assignee,
confidentiality and due-date changes. The seed follows that.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from .._clock import SEED_EPOCH
from .._paging import SortedKeys
from .._seed_words import COMMENTS as _COMMENTS
from .._seed_words import NOUNS, issue_sentences
from .._seeding import (
    draw_issue,
    issue_slots,
    next_touch,
    seed_person,
    seeded_branch,
    seeded_commit_message,
)
from .._webhooks import Delivery

GROUP_PATH = "acme"
PROJECT_PATH = "widgets"
BOT_USERNAME = "sandbox-bot"  # the token owner; owns the project
OUTSIDER_USERNAME = "outsider"  # a valid token that is not a member of the (private) project

PROJECT_ID = 4242
GROUP_ID = 420
BOT_ID = 1
ISSUE_ID_BASE = 160_000_000
NOTE_ID_BASE = 2_100_000_000
LABEL_ID_BASE = 30_000
MILESTONE_ID_BASE = 5_000
HOOK_ID_BASE = 9_000
STATE_EVENT_ID_BASE = 700_000
MERGE_REQUEST_ID_BASE = 310_000_000
SEEDED_COMMITS = 45
SEEDED_MERGE_REQUESTS = 12

SEED_EPOCH_MS = SEED_EPOCH * 1000
DAY_MS = 86_400_000

# name, colour, description: a small project's label set, including a scoped label pair.
DEFAULT_LABELS: tuple[tuple[str, str, str | None], ...] = (
    ("bug", "#d9534f", "Something is broken"),
    ("feature", "#428bca", "New functionality"),
    ("documentation", "#5cb85c", None),
    ("needs-triage", "#f0ad4e", "Not looked at yet"),
    ("priority::high", "#cc0033", "Scoped label: fix soon"),
    ("priority::low", "#8fbc8f", "Scoped label: when time allows"),
    ("backend", "#6699cc", None),
    ("frontend", "#ad4363", None),
)

_SENTENCES = issue_sentences("pipeline")


@dataclass(slots=True)
class User:
    id: int
    username: str
    name: str
    created_at: int


@dataclass(slots=True)
class Label:
    id: int
    name: str
    color: str
    description: str | None


@dataclass(slots=True)
class Milestone:
    id: int
    iid: int
    title: str
    state: str
    due_date: str | None
    created_at: int


ISSUE_TYPES: tuple[str, ...] = ("issue", "incident", "test_case", "task")
# Every tenth issue an incident and every tenth (offset five) a task; the rest plain issues.
SEEDED_TYPES: tuple[str, ...] = ("incident", *["issue"] * 4, "task", *["issue"] * 4)


@dataclass(slots=True)
class Issue:
    iid: int
    title: str
    description: str | None
    author: str
    state: str  # "opened" | "closed"
    labels: list[str]
    assignees: list[str]
    created_at: int
    updated_at: int
    closed_at: int | None = None
    closed_by: str | None = None
    confidential: bool = False
    milestone_id: int | None = None
    due_date: str | None = None
    upvotes: int = 0
    downvotes: int = 0
    user_notes_count: int = 0
    discussion_locked: bool | None = None
    updated_by: str | None = None
    last_edited_at: int | None = None
    last_edited_by: str | None = None
    issue_type: str = "issue"  # issue, incident, test_case or task (GitLab's work item types for issues)

    @property
    def id(self) -> int:
        return ISSUE_ID_BASE + self.iid


@dataclass(slots=True)
class Note:
    id: int
    iid: int  # the issue's iid (noteable_iid)
    author: str
    body: str
    created_at: int
    updated_at: int
    system: bool = False
    internal: bool = False
    updated_by: str | None = None


@dataclass(slots=True)
class StateEvent:
    """A resource state event: how GitLab records close and reopen (no note is written for them)."""

    id: int
    iid: int
    user: str
    created_at: int
    state: str  # "closed" | "reopened"


@dataclass(slots=True)
class Commit:
    """A commit of the default branch (``main``); the sandbox keeps one history, newest first."""

    sha: str
    message: str
    author: str
    date: int  # epoch ms, authored and committed
    parent: str | None


@dataclass(slots=True)
class MergeRequest:
    """A merge request from ``source_branch`` into ``main``; iids are their own sequence, as on GitLab."""

    iid: int
    title: str
    description: str | None
    author: str
    source_branch: str
    state: str  # "opened" | "closed" | "merged"
    created_at: int
    updated_at: int
    merged_at: int | None = None
    closed_at: int | None = None

    @property
    def id(self) -> int:
        return MERGE_REQUEST_ID_BASE + self.iid


HOOK_EVENT_FLAGS = (
    "push_events",
    "issues_events",
    "confidential_issues_events",
    "merge_requests_events",
    "tag_push_events",
    "note_events",
    "confidential_note_events",
    "job_events",
    "pipeline_events",
    "wiki_page_events",
    "deployment_events",
    "releases_events",
    "milestone_events",
    "feature_flag_events",
    "emoji_events",
    "resource_access_token_events",
    "member_events",
    "vulnerability_events",
    "repository_update_events",
)


@dataclass(slots=True)
class Hook:
    id: int
    url: str
    created_at: int
    name: str | None = None
    description: str | None = None
    token: str | None = None
    signing_token: str | None = None
    enable_ssl_verification: bool = True
    push_events_branch_filter: str | None = None
    # The web_hooks.push_events column defaults to true; every other event flag defaults to false.
    events: dict[str, bool] = field(
        default_factory=lambda: {flag: flag == "push_events" for flag in HOOK_EVENT_FLAGS}
    )


@dataclass(slots=True)
class HookLog:
    """One execution of a hook (GitLab's WebHookLog), backed by the delivery that carried it."""

    id: int
    hook_id: int
    trigger: str  # "issue_hooks", "note_hooks", ...
    payload: Any
    delivery: Delivery


LINK_TYPES: tuple[str, ...] = ("relates_to", "blocks", "is_blocked_by")
# A link read from its other end: "A blocks B" is "B is_blocked_by A".
LINK_INVERSE: dict[str, str] = {
    "relates_to": "relates_to",
    "blocks": "is_blocked_by",
    "is_blocked_by": "blocks",
}
LINK_ID_BASE = 7_000_000


@dataclass(slots=True)
class IssueLink:
    """``source`` -> ``target`` of ``link_type`` (as created from the source issue)."""

    id: int
    source: int
    target: int
    link_type: str
    created_at: int

    def seen_from(self, iid: int) -> tuple[int, str] | None:
        """(the other issue, the link type read from ``iid``), or None when ``iid`` is on neither end."""
        if iid == self.source:
            return self.target, self.link_type
        if iid == self.target:
            return self.source, LINK_INVERSE[self.link_type]
        return None


@dataclass(slots=True)
class GitLabState:
    users: dict[str, User] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    milestones: dict[int, Milestone] = field(default_factory=dict)
    issues: list[Issue | None] = field(default_factory=list)
    by_updated: SortedKeys = field(default_factory=SortedKeys)
    notes: dict[int, Note] = field(default_factory=dict)
    notes_by_issue: dict[int, list[int]] = field(default_factory=dict)
    state_events: dict[int, list[StateEvent]] = field(default_factory=dict)
    hooks: dict[int, Hook] = field(default_factory=dict)
    hook_logs: list[HookLog] = field(default_factory=list)
    uploads: list[tuple[str, str, int]] = field(default_factory=list)  # (secret, filename, size)
    commits: list[Commit] = field(default_factory=list)  # newest first
    merge_requests: list[MergeRequest] = field(default_factory=list)  # merge_requests[iid - 1]
    links: dict[int, IssueLink] = field(default_factory=dict)  # issue links by id, in creation order
    next_link_id: int = LINK_ID_BASE + 1
    created_at: int = SEED_EPOCH_MS - 3 * 365 * DAY_MS
    next_note_id: int = NOTE_ID_BASE + 1
    next_hook_id: int = HOOK_ID_BASE + 1
    next_label_id: int = LABEL_ID_BASE + 1
    next_state_event_id: int = STATE_EVENT_ID_BASE + 1
    next_hook_log_id: int = 1
    deleted_count: int = 0
    # False once an issue was created with an earlier created_at than the one before it (a test moved the
    # clock back): order_by=created_at can then no longer be answered as iid order.
    created_in_iid_order: bool = True

    @property
    def full_path(self) -> str:
        return f"{GROUP_PATH}/{PROJECT_PATH}"

    def issue(self, iid: int) -> Issue | None:
        if 1 <= iid <= len(self.issues):
            return self.issues[iid - 1]
        return None

    def live_issues(self) -> list[Issue]:
        return [issue for issue in self.issues if issue is not None]

    def open_count(self) -> int:
        return sum(1 for issue in self.issues if issue is not None and issue.state == "opened")

    def user_by_id(self, user_id: int) -> User | None:
        for user in self.users.values():
            if user.id == user_id:
                return user
        return None

    def label(self, name: str) -> Label:
        """The project label called ``name``, created with GitLab's default grey if new (as the API does)."""
        found = self.labels.get(name)
        if found is None:
            found = Label(self.next_label_id, name, "#6699cc", None)
            self.next_label_id += 1
            self.labels[name] = found
        return found

    def set_updated(self, issue: Issue, at: int) -> None:
        if issue.updated_at != at:
            self.by_updated.replace((issue.updated_at, issue.iid), (at, issue.iid))
            issue.updated_at = at

    def add_issue(self, issue: Issue) -> None:
        previous = next((item for item in reversed(self.issues) if item is not None), None)
        if previous is not None and issue.created_at < previous.created_at:
            self.created_in_iid_order = False
        self.issues.append(issue)
        self.by_updated.add((issue.updated_at, issue.iid))

    def remove_issue(self, issue: Issue) -> None:
        self.issues[issue.iid - 1] = None
        self.deleted_count += 1
        self.by_updated.remove((issue.updated_at, issue.iid))
        for note_id in self.notes_by_issue.pop(issue.iid, []):
            self.notes.pop(note_id, None)
        self.state_events.pop(issue.iid, None)

    def add_note(self, note: Note) -> None:
        self.notes[note.id] = note
        self.notes_by_issue.setdefault(note.iid, []).append(note.id)

    def drop_note(self, note: Note) -> None:
        self.notes.pop(note.id, None)
        ids = self.notes_by_issue.get(note.iid)
        if ids and note.id in ids:
            ids.remove(note.id)

    def add_state_event(self, iid: int, user: str, at: int, state: str) -> StateEvent:
        event = StateEvent(self.next_state_event_id, iid, user, at, state)
        self.next_state_event_id += 1
        self.state_events.setdefault(iid, []).append(event)
        return event


def seed_state(
    rng: random.Random, *, issues: int, comments_per_issue: int, closed_ratio: float, users: int
) -> GitLabState:
    """Project ``acme/widgets`` with ``issues`` issues, their user notes, some system notes and state events.

    Only ``rng`` and ``SEED_EPOCH`` decide the content, so one seed always gives the same state.
    """
    state = GitLabState()
    state.users[BOT_USERNAME] = User(BOT_ID, BOT_USERNAME, "Sandbox Bot", state.created_at)
    for index in range(users):
        person = seed_person(index)
        username = person.handle(".")
        state.users[username] = User(BOT_ID + 1 + index, username, person.name, state.created_at)
    state.users[OUTSIDER_USERNAME] = User(BOT_ID + 50_000, OUTSIDER_USERNAME, "Out Sider", state.created_at)
    for offset, (name, color, about) in enumerate(DEFAULT_LABELS):
        state.labels[name] = Label(LABEL_ID_BASE - 100 + offset, name, color, about)
    for offset, (title, milestone_state, due) in enumerate(
        (("v1.0", "closed", "2024-06-30"), ("v1.1", "active", "2025-03-31"), ("Backlog", "active", None))
    ):
        milestone = Milestone(
            MILESTONE_ID_BASE + offset, offset + 1, title, milestone_state, due, state.created_at
        )
        state.milestones[milestone.id] = milestone
    people = [name for name in state.users if name != OUTSIDER_USERNAME]
    label_names = [name for name, _, _ in DEFAULT_LABELS]
    milestone_ids = list(state.milestones)

    # Issues are spaced evenly over the years before SEED_EPOCH; notes follow their issue inside its slot,
    # so note ids grow with created_at.
    # The slot holds the comments plus up to two system notes (assignment, description edit).
    step, gap = issue_slots(state.created_at, SEED_EPOCH_MS - DAY_MS, issues, comments_per_issue + 2)
    random_ = rng.random
    randrange = rng.randrange
    issue_list = state.issues
    notes = state.notes
    by_issue = state.notes_by_issue
    next_note = state.next_note_id
    for iid in range(1, issues + 1):
        created = state.created_at + iid * step + randrange(1000)
        draw = draw_issue(rng, people, _SENTENCES, label_names, 0.5)
        author, description = draw.author, draw.body
        assignees = [draw.assignee] if draw.assignee else []
        last_touch = created
        ids: list[int] = []
        if assignees:
            last_touch += 1 + randrange(gap)
            notes[next_note] = Note(
                next_note, iid, author, f"assigned to @{assignees[0]}", last_touch, last_touch, system=True
            )
            ids.append(next_note)
            next_note += 1
        for _ in range(comments_per_issue):
            last_touch = next_touch(randrange, last_touch, gap, created + step - 1)
            body = _COMMENTS[randrange(len(_COMMENTS))]
            notes[next_note] = Note(
                next_note, iid, people[randrange(len(people))], body, last_touch, last_touch
            )
            ids.append(next_note)
            next_note += 1
        edited = description is not None and random_() < 0.15
        if edited:
            last_touch = next_touch(randrange, last_touch, gap, created + step - 1)
            notes[next_note] = Note(
                next_note, iid, author, "changed the description", last_touch, last_touch, system=True
            )
            ids.append(next_note)
            next_note += 1
        if ids:
            by_issue[iid] = ids
        updated = min(last_touch + randrange(3_600_000), SEED_EPOCH_MS - 1)
        issue = Issue(
            iid,
            f"{draw.title} (#{iid})",
            description,
            author,
            "opened",
            draw.labels,
            assignees,
            created,
            updated,
            confidential=random_() < 0.05,
            milestone_id=milestone_ids[randrange(len(milestone_ids))] if random_() < 0.3 else None,
            upvotes=randrange(4) if random_() < 0.2 else 0,
            user_notes_count=comments_per_issue,
            last_edited_at=last_touch if edited else None,
            last_edited_by=author if edited else None,
            # By iid alone, so the seed's random stream (and every other seeded value) is unchanged.
            issue_type=SEEDED_TYPES[iid % len(SEEDED_TYPES)],
        )
        if random_() < closed_ratio:
            issue.state = "closed"
            issue.closed_at = updated
            issue.closed_by = people[randrange(len(people))]
            state.add_state_event(iid, issue.closed_by, updated, "closed")
        issue_list.append(issue)
    state.next_note_id = next_note
    state.by_updated = SortedKeys([(issue.updated_at, issue.iid) for issue in issue_list if issue])
    seed_development(state, issues, people)
    seed_links(state, issues)
    return state


def commit_sha(parent: str | None, when: int, message: str) -> str:
    return hashlib.sha1(f"{parent}\n{when}\n{message}".encode(), usedforsecurity=False).hexdigest()


def seed_development(state: GitLabState, issues: int, people: list[str]) -> None:
    """Commits of ``main`` and merge requests whose texts and branches name issues (``_seeding``); drawn
    without ``rng``, so the issues and notes seeded before them do not move."""
    span = SEED_EPOCH_MS - DAY_MS - state.created_at
    parent: str | None = None
    for index in range(SEEDED_COMMITS):
        when = state.created_at + (index + 1) * (span // (SEEDED_COMMITS + 1)) + index % 1000
        message = seeded_commit_message(index, issues)
        sha = commit_sha(parent, when, message)
        state.commits.append(Commit(sha, message, people[index % len(people)], when, parent))
        parent = sha
    state.commits.reverse()
    for iid in range(1, SEEDED_MERGE_REQUESTS + 1):
        created = state.created_at + iid * (span // (SEEDED_MERGE_REQUESTS + 1))
        issue = iid % max(issues, 1) + 1
        request = MergeRequest(
            iid,
            f"{NOUNS[iid % len(NOUNS)].capitalize()}: tidy up",
            f"Closes #{issue}" if iid % 3 == 0 else "Small clean-up.",
            people[iid % len(people)],
            seeded_branch(iid, issue),
            "opened",
            created,
            created + DAY_MS // 2,
        )
        if iid % 4 == 1:
            request.state, request.merged_at = "merged", request.updated_at
        elif iid % 4 == 3:  # closed without a merge, as some requests end
            request.state, request.closed_at = "closed", request.updated_at
        state.merge_requests.append(request)


def seed_links(state: GitLabState, issues: int) -> None:
    """Issue links by iid alone (no draw from ``rng``): #3 relates to #2 and #4 blocks #5 (#5 is blocked by
    #4), when the project has those issues."""
    for source, target, link_type in ((3, 2, "relates_to"), (4, 5, "blocks")):
        if max(source, target) <= issues:
            link_id = state.next_link_id
            state.links[link_id] = IssueLink(link_id, source, target, link_type, state.created_at)
            state.next_link_id += 1
