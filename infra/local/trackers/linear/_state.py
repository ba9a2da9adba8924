"""The Linear sandbox's records and their seeding: one workspace, one team (``ENG``), its workflow states,
labels, members, issues and comments, plus registered webhooks.

Records are compact slotted dataclasses; the GraphQL shapes are rendered per answer (``_graph``). Times are
epoch milliseconds (Linear's ``DateTime`` is millisecond-precise); ids are UUIDs drawn from the seeded
``rng`` so the same seed yields the same workspace, and ``Issue.number`` is the team-local number of its
identifier (``ENG-12``).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from .._clock import SEED_EPOCH
from .._seed_words import COMMENTS, issue_sentences
from .._seeding import draw_issue, issue_slots, next_touch, seed_person

TEAM_KEY = "ENG"
TEAM_NAME = "Engineering"
BOT_NAME = "Sandbox Bot"
DAY_MS = 86_400_000
SEED_EPOCH_MS = SEED_EPOCH * 1000
# A new team's default workflow (Linear creates these): name, type, position, color.
DEFAULT_STATES: tuple[tuple[str, str, float, str], ...] = (
    ("Triage", "triage", 0, "#fc7840"),
    ("Backlog", "backlog", 1, "#bec2c8"),
    ("Todo", "unstarted", 2, "#e2e2e2"),
    ("In Progress", "started", 3, "#f2c94c"),
    ("In Review", "started", 4, "#0f783c"),
    ("Done", "completed", 5, "#5e6ad2"),
    ("Canceled", "canceled", 6, "#95a2b3"),
    ("Duplicate", "canceled", 7, "#95a2b3"),
)
DEFAULT_LABELS: tuple[tuple[str, str], ...] = (
    ("Bug", "#eb5757"),
    ("Feature", "#bb87fc"),
    ("Improvement", "#4ea7fc"),
    ("bug", "#eb5757"),
    ("ops", "#26b5ce"),
)
PRIORITY_LABELS: tuple[str, ...] = ("No priority", "Urgent", "High", "Medium", "Low")
_SENTENCES = issue_sentences("Sentry issue")


@dataclass(slots=True)
class State:
    id: str
    name: str
    type: str
    position: float
    color: str


@dataclass(slots=True)
class Label:
    id: str
    name: str
    color: str


@dataclass(slots=True)
class Person:
    id: str
    name: str
    display_name: str
    email: str


@dataclass(slots=True)
class Issue:
    id: str
    number: int
    title: str
    description: str | None
    priority: int
    state_id: str
    assignee_id: str | None
    label_ids: list[str]
    created_ms: int
    updated_ms: int
    creator_id: str


@dataclass(slots=True)
class Comment:
    id: str
    issue_number: int
    body: str
    user_id: str
    created_ms: int
    updated_ms: int


@dataclass(slots=True)
class Hook:
    id: str
    url: str
    secret: str | None
    resource_types: tuple[str, ...]
    team_id: str | None
    label: str | None
    enabled: bool = True


@dataclass(slots=True)
class LinearState:
    """Everything the sandbox holds; mutated only under the sandbox's lock."""

    org_id: str
    team_id: str
    bot: Person
    people: list[Person]
    states: dict[str, State]
    labels: dict[str, Label]
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[str, Comment] = field(default_factory=dict)
    comments_by_issue: dict[int, list[str]] = field(default_factory=dict)
    hooks: dict[str, Hook] = field(default_factory=dict)
    next_number: int = 1
    last_ms: int = 0
    # Complexity points spent per principal in the current window: (window start epoch s, points).
    complexity: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Ids of records made after seeding: seeded too, so a replayed script makes the same ids.
    ids: random.Random = field(default_factory=random.Random)

    def live_issues(self) -> list[Issue]:
        """Every issue not deleted (a deleted one leaves ``issues``), in number order."""
        return [self.issues[number] for number in sorted(self.issues)]

    def issue_by_id(self, value: str) -> Issue | None:
        """An issue by UUID or identifier (``ENG-12``, any case), as ``issue(id:)`` looks it up."""
        prefix, dash, number = value.strip().rpartition("-")
        if dash and prefix.upper() == TEAM_KEY and number.isdigit():
            return self.issues.get(int(number))
        return next((i for i in self.issues.values() if i.id == value), None)

    def state_for(self, value: str) -> State | None:
        """A state by id, name or type (any case): scripts name ``completed`` or ``Done`` alike."""
        wanted = value.strip().lower()
        for state in sorted(self.states.values(), key=lambda s: s.position):
            if wanted in (state.id, state.name.lower(), state.type):
                return state
        return None

    def label_by_name(self, name: str) -> Label | None:
        return next((label for label in self.labels.values() if label.name == name), None)

    def tick(self, now_ms: int) -> int:
        """A write's time: now, but strictly after the previous write, so update order is total."""
        self.last_ms = max(now_ms, self.last_ms + 1)
        return self.last_ms

    def remove_issue(self, number: int) -> Issue:
        issue = self.issues.pop(number)  # KeyError: no such issue
        for comment_id in self.comments_by_issue.pop(number, []):
            self.comments.pop(comment_id, None)
        return issue

    def remove_comment(self, comment_id: str) -> Comment:
        comment = self.comments.pop(comment_id)  # KeyError: no such comment
        self.comments_by_issue.get(comment.issue_number, []).remove(comment_id)
        return comment


def new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seed_state(
    rng: random.Random, *, issues: int, comments_per_issue: int, closed_ratio: float, users: int
) -> LinearState:
    """A deterministic workspace: issues spread over the year before :data:`SEED_EPOCH`, each followed by
    its comments inside its own time slot (so ids handed out in order also grow with time)."""
    states = {sid: State(sid, n, t, p, c) for n, t, p, c in DEFAULT_STATES for sid in [new_id(rng)]}
    labels = {lid: Label(lid, n, c) for n, c in DEFAULT_LABELS for lid in [new_id(rng)]}
    people = []
    for index in range(users):
        person = seed_person(index)
        people.append(
            Person(new_id(rng), person.name, person.handle("."), f"{person.handle('.')}@example.com")
        )
    bot = Person(new_id(rng), BOT_NAME, "sandbox-bot", "sandbox-bot@example.com")
    state = LinearState(new_id(rng), new_id(rng), bot, people, states, labels)
    by_type = {s.type: s for s in sorted(states.values(), key=lambda s: -s.position)}
    open_states = [by_type["backlog"], by_type["unstarted"], by_type["started"]]
    done, canceled = by_type["completed"], by_type["canceled"]
    people_ids = [p.id for p in people]
    label_ids = list(labels)
    start = SEED_EPOCH_MS - 365 * DAY_MS
    step, gap = issue_slots(start, SEED_EPOCH_MS - DAY_MS, issues, comments_per_issue + 1)
    randrange = rng.randrange
    for number in range(1, issues + 1):
        draw = draw_issue(rng, people_ids, _SENTENCES, label_ids, 0.5)
        created = start + (number - 1) * step + randrange(1000)
        if rng.random() < closed_ratio:
            chosen = canceled if rng.random() < 0.1 else done
        else:
            chosen = open_states[randrange(len(open_states))]
        issue = Issue(
            id=new_id(rng),
            number=number,
            title=draw.title,
            description=draw.body,
            priority=randrange(5),
            state_id=chosen.id,
            assignee_id=draw.assignee,
            label_ids=draw.labels,
            created_ms=created,
            updated_ms=created,
            creator_id=draw.author,
        )
        state.issues[number] = issue
        last = created
        ids: list[str] = []
        for _ in range(comments_per_issue):
            last = next_touch(randrange, last, gap, created + step - 1)
            comment = Comment(
                new_id(rng), number, COMMENTS[randrange(len(COMMENTS))], draw.author, last, last
            )
            state.comments[comment.id] = comment
            ids.append(comment.id)
        state.comments_by_issue[number] = ids
        issue.updated_ms = next_touch(randrange, last, gap, created + step - 1)
    state.ids = random.Random(rng.getrandbits(64))  # noqa: S311 - seeded ids, not secrets
    state.next_number = issues + 1
    state.last_ms = SEED_EPOCH_MS
    return state
