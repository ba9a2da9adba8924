"""The YouTrack sandbox's in-memory truth: project ``ACME``, its issues, comments, tags, users and app hooks.

Records are compact slotted dataclasses addressed by number; the JSON YouTrack answers is rendered per
response (``_render``). Entity ids follow YouTrack's ``<type>-<n>`` form: the project ``0-0``, users
``1-n``, issues ``2-n``, comments ``4-n``; issues are also named ``ACME-<number>`` (``idReadable``).
Seeding uses the draws every sandbox shares (``_seeding``), on the same timeline, so one seed always yields
the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .._clock import SEED_EPOCH
from .._paging import SortedKeys
from .._seed_words import COMMENTS, issue_sentences
from .._seeding import draw_issue, issue_slots, next_touch, seed_person

PROJECT_KEY = "ACME"
PROJECT_ID = "0-0"
PROJECT_NAME = "Acme Widgets"
BOT_LOGIN = "sandbox-bot"
ISSUE_ID_BASE = 1000
SEED_EPOCH_MS = SEED_EPOCH * 1000
DAY_MS = 86_400_000
# The default workflow's State bundle: (name, isResolved), in the bundle's order.
STATES: tuple[tuple[str, bool], ...] = (
    ("Submitted", False),
    ("Open", False),
    ("In Progress", False),
    ("Reopened", False),
    ("Fixed", True),
    ("Verified", True),
    ("Won't fix", True),
    ("Duplicate", True),
)
RESOLVED = frozenset(name for name, resolved in STATES if resolved)
PRIORITIES = ("Show-stopper", "Critical", "Major", "Normal", "Minor")
TYPES = ("Bug", "Feature", "Task", "Cosmetics")
TAGS = ("bug", "ops", "ui", "backend", "docs")
_SENTENCES = issue_sentences("build")


@dataclass(slots=True)
class Comment:
    number: int
    issue: int
    author: str
    text: str
    created: int
    updated: int
    deleted: bool = False

    @property
    def id(self) -> str:
        return f"4-{self.number}"


@dataclass(slots=True)
class Issue:
    number: int
    summary: str
    description: str | None
    reporter: str
    state: str
    tags: list[str]
    assignee: str | None
    priority: str
    type: str
    created: int
    updated: int
    resolved: int | None = None
    comments: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"2-{ISSUE_ID_BASE + self.number}"

    @property
    def key(self) -> str:
        return f"{PROJECT_KEY}-{self.number}"


@dataclass(frozen=True, slots=True)
class Activity:
    """One entry of the activity stream (``/api/activitiesPage``): an issue or comment added or removed.

    ``category`` is ``IssueCreatedCategory`` (the issue itself in ``added``/``removed``) or
    ``CommentsCategory`` (``comment`` is the comment's number); ``number`` orders the stream and is what a
    cursor points after."""

    number: int
    timestamp: int
    category: str
    issue: int
    added: bool
    comment: int | None = None

    @property
    def id(self) -> str:
        return f"5-{self.number}"


@dataclass(slots=True)
class Hook:
    """A delivery target the trackbridge app stores for the project (its HTTP handler's data)."""

    id: str
    url: str
    secret: str
    events: tuple[str, ...]


@dataclass
class YouTrackState:
    users: dict[str, str] = field(default_factory=dict)  # login -> full name
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    hooks: dict[str, Hook] = field(default_factory=dict)
    # The activity stream since the sandbox started (seeded records have none: a feed is read from a
    # cursor or a time after seeding).
    activities: list[Activity] = field(default_factory=list)
    by_created: SortedKeys = field(default_factory=SortedKeys)  # (created, number)
    by_updated: SortedKeys = field(default_factory=SortedKeys)  # (updated, number)
    next_issue: int = 1
    next_comment: int = 1
    next_hook: int = 1

    def issue(self, ref: str) -> Issue | None:
        """By ``ACME-12`` or entity id ``2-1012``."""
        project, _, number = ref.rpartition("-")
        if not number.isdigit():
            return None
        if project == PROJECT_KEY:
            return self.issues.get(int(number))
        if project == "2":
            return self.issues.get(int(number) - ISSUE_ID_BASE)
        return None

    def comment(self, ref: str) -> Comment | None:
        kind, _, number = ref.partition("-")
        return self.comments.get(int(number)) if kind == "4" and number.isdigit() else None

    def add_issue(self, issue: Issue) -> None:
        self.issues[issue.number] = issue
        self.by_created.add((issue.created, issue.number))
        self.by_updated.add((issue.updated, issue.number))
        self.next_issue = max(self.next_issue, issue.number + 1)

    def set_updated(self, issue: Issue, when: int) -> None:
        when = max(when, issue.updated + 1)
        self.by_updated.replace((issue.updated, issue.number), (when, issue.number))
        issue.updated = when

    def set_state(self, issue: Issue, name: str, when: int) -> None:
        issue.state = name
        issue.resolved = (issue.resolved or when) if name in RESOLVED else None

    def add_comment(self, issue: Issue, author: str, text: str, when: int) -> Comment:
        comment = Comment(self.next_comment, issue.number, author, text, when, when)
        self.comments[comment.number] = comment
        issue.comments.append(comment.number)
        self.next_comment += 1
        return comment

    def record(
        self, category: str, issue: Issue, when: int, *, added: bool, comment: int | None = None
    ) -> None:
        self.activities.append(
            Activity(len(self.activities) + 1, when, category, issue.number, added, comment)
        )

    def remove_issue(self, issue: Issue) -> None:
        del self.issues[issue.number]
        self.by_created.remove((issue.created, issue.number))
        self.by_updated.remove((issue.updated, issue.number))
        for number in issue.comments:
            self.comments.pop(number, None)

    def live_issues(self) -> list[Issue]:
        return list(self.issues.values())

    def live_comments(self) -> int:
        return sum(1 for c in self.comments.values() if not c.deleted)


def seed_state(
    rng: random.Random, *, issues: int, comments_per_issue: int, closed_ratio: float, users: int
) -> YouTrackState:
    """``issues`` issues of ``ACME`` spaced over the years before ``SEED_EPOCH``, each with its comments."""
    state = YouTrackState()
    state.users[BOT_LOGIN] = "Sandbox Bot"
    for index in range(users):
        person = seed_person(index)
        state.users[person.handle(".")] = person.name
    people = list(state.users)
    start = SEED_EPOCH_MS - 3 * 365 * DAY_MS
    step, gap = issue_slots(start, SEED_EPOCH_MS - DAY_MS, issues, comments_per_issue + 1)
    randrange, random_ = rng.randrange, rng.random
    for number in range(1, issues + 1):
        created = start + number * step + randrange(1000)
        draw = draw_issue(rng, people, _SENTENCES, TAGS, 0.5)
        issue = Issue(
            number,
            f"{draw.title} ({PROJECT_KEY}-{number})",
            draw.body,
            draw.author,
            "Open",
            [str(tag) for tag in draw.labels],
            draw.assignee,
            PRIORITIES[number % len(PRIORITIES)],
            TYPES[number % len(TYPES)],
            created,
            created,
        )
        last = created
        for _ in range(comments_per_issue):
            last = next_touch(randrange, last, gap, created + step - 1)
            text = COMMENTS[randrange(len(COMMENTS))]
            state.add_comment(issue, people[randrange(len(people))], text, last)
        issue.updated = min(last + randrange(3_600_000), SEED_EPOCH_MS - 1)
        if random_() < closed_ratio:
            issue.state, issue.resolved = "Fixed", issue.updated
        elif random_() < 0.3:
            issue.state = "In Progress"
        state.add_issue(issue)
    return state
