"""The Redmine sandbox's truth: one project's issues and journals, its people, and the fixed enumerations.

Records are slotted dataclasses holding ids, not JSON (``_render`` writes the API's shapes per response).
Two :class:`SortedKeys` indexes serve the listings Redmine's clients page through: by id (a full pass, or
Redmine's default ``id:desc``) and by ``(updated_on, id)`` (an incremental pass), so a page is a slice.
The enumerations are Redmine's default configuration data (``redmine:load_default_data``): statuses with
their ``is_closed`` flag, trackers and priorities.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .._clock import SEED_EPOCH
from .._paging import SortedKeys
from .._seed_words import COMMENTS, issue_sentences
from .._seeding import draw_issue, issue_slots, next_touch, seed_person

PROJECT_ID = 1
PROJECT_IDENTIFIER = "acme-widgets"
PROJECT_NAME = "Acme Widgets"
# Redmine's default statuses: (id, name, is_closed). "Resolved" is open by default.
STATUSES: tuple[tuple[int, str, bool], ...] = (
    (1, "New", False),
    (2, "In Progress", False),
    (3, "Resolved", False),
    (4, "Feedback", False),
    (5, "Closed", True),
    (6, "Rejected", True),
)
STATUS_BY_ID = {status_id: (name, closed) for status_id, name, closed in STATUSES}
DEFAULT_STATUS = 1
TRACKERS: tuple[tuple[int, str], ...] = ((1, "Bug"), (2, "Feature"), (3, "Support"))
PRIORITIES: tuple[tuple[int, str], ...] = (
    (1, "Low"),
    (2, "Normal"),
    (3, "High"),
    (4, "Urgent"),
    (5, "Immediate"),
)
DEFAULT_PRIORITY = 2
# The multi-value list custom field that holds labels (what trackbridge's adapter reads as labels).
LABELS_FIELD_ID = 1
LABELS_FIELD_NAME = "Labels"
LABEL_VALUES: tuple[str, ...] = ("bug", "feature", "ops", "docs", "security", "ux", "performance")
BOT_ID = 1
BOT_LOGIN = "sandbox-bot"
DAY = 86_400


@dataclass(slots=True)
class Person:
    id: int
    login: str
    firstname: str
    lastname: str

    @property
    def name(self) -> str:
        return f"{self.firstname} {self.lastname}"

    @property
    def mail(self) -> str:
        return f"{self.login}@example.invalid"


@dataclass(slots=True)
class Issue:
    id: int
    subject: str
    description: str
    status_id: int
    tracker_id: int
    priority_id: int
    author_id: int
    assigned_to_id: int | None
    labels: list[str]
    created_on: int
    updated_on: int
    closed_on: int | None = None
    lock_version: int = 0

    @property
    def is_closed(self) -> bool:
        return STATUS_BY_ID[self.status_id][1]


@dataclass(slots=True)
class Journal:
    """A change of an issue: ``notes`` (a comment when not empty) and attribute ``details``."""

    id: int
    issue_id: int
    user_id: int
    notes: str
    created_on: int
    updated_on: int
    private_notes: bool = False
    details: list[dict[str, str | None]] = field(default_factory=list)


@dataclass(slots=True)
class Webhook:
    """One URL of the redmine_webhook plugin's project settings (userinfo included, as it was typed)."""

    id: int
    url: str


@dataclass
class RedmineState:
    people: dict[int, Person] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    journals: dict[int, Journal] = field(default_factory=dict)
    journals_by_issue: dict[int, list[int]] = field(default_factory=dict)
    webhooks: dict[int, Webhook] = field(default_factory=dict)
    by_id: SortedKeys = field(default_factory=SortedKeys)
    by_updated: SortedKeys = field(default_factory=SortedKeys)
    next_issue_id: int = 1
    next_journal_id: int = 1
    next_webhook_id: int = 1
    created_on: int = SEED_EPOCH - 3 * 365 * DAY

    def person(self, user_id: int | None) -> Person | None:
        return self.people.get(user_id) if user_id is not None else None

    def add_issue(self, issue: Issue) -> None:
        self.issues[issue.id] = issue
        self.by_id.add(issue.id)
        self.by_updated.add((issue.updated_on, issue.id))
        self.next_issue_id = max(self.next_issue_id, issue.id + 1)

    def set_updated(self, issue: Issue, when: int) -> None:
        self.by_updated.replace((issue.updated_on, issue.id), (when, issue.id))
        issue.updated_on = when
        issue.lock_version += 1

    def remove_issue(self, issue: Issue) -> None:
        del self.issues[issue.id]
        self.by_id.remove(issue.id)
        self.by_updated.remove((issue.updated_on, issue.id))
        for journal_id in self.journals_by_issue.pop(issue.id, []):
            self.journals.pop(journal_id, None)

    def add_journal(self, journal: Journal) -> None:
        self.journals[journal.id] = journal
        self.journals_by_issue.setdefault(journal.issue_id, []).append(journal.id)
        self.next_journal_id = max(self.next_journal_id, journal.id + 1)

    def journals_of(self, issue_id: int) -> list[Journal]:
        return [self.journals[j] for j in self.journals_by_issue.get(issue_id, []) if j in self.journals]

    def live_issues(self) -> list[Issue]:
        """Every issue, in id order (the deletion-check tests count the id listing's pages from it)."""
        return [self.issues[i] for i in self.by_id]

    def comment_count(self) -> int:
        return sum(1 for j in self.journals.values() if j.notes and not j.private_notes)


def seed_state(
    rng: random.Random, *, issues: int, comments_per_issue: int, closed_ratio: float, users: int
) -> RedmineState:
    """Project ``acme-widgets`` with ``issues`` issues, each with its notes; closed ones end with the
    status-change journal that closed them. Only ``rng`` and ``SEED_EPOCH`` decide the content."""
    state = RedmineState()
    state.people[BOT_ID] = Person(BOT_ID, BOT_LOGIN, "Sandbox", "Bot")
    for index in range(users):
        person = seed_person(index)
        user_id = BOT_ID + 1 + index
        state.people[user_id] = Person(user_id, person.handle("."), person.first.title(), person.last.title())
    people = [person.login for person in state.people.values()]
    by_login = {person.login: person.id for person in state.people.values()}
    sentences = issue_sentences("#1")
    step, gap = issue_slots(state.created_on, SEED_EPOCH - DAY, issues, comments_per_issue + 1)
    randrange = rng.randrange
    for number in range(1, issues + 1):
        created = state.created_on + number * step
        draw = draw_issue(rng, people, sentences, LABEL_VALUES, 0.5)
        last = created
        for _ in range(comments_per_issue):
            last = next_touch(randrange, last, gap, created + step - 1)
            text = COMMENTS[randrange(len(COMMENTS))]
            who = by_login[people[randrange(len(people))]]
            state.add_journal(Journal(state.next_journal_id, number, who, text, last, last))
        closed = rng.random() < closed_ratio
        status = (5 if rng.random() < 0.8 else 6) if closed else (1, 1, 2, 3, 4)[randrange(5)]
        closed_on = None
        if closed:
            last = next_touch(randrange, last, gap, created + step - 1)
            closed_on = last
            details: list[dict[str, str | None]] = [
                {"property": "attr", "name": "status_id", "old_value": "1", "new_value": str(status)}
            ]
            state.add_journal(
                Journal(state.next_journal_id, number, by_login[draw.author], "", last, last, details=details)
            )
        issue = Issue(
            id=number,
            subject=draw.title,
            description=draw.body or "",
            status_id=status,
            tracker_id=TRACKERS[randrange(len(TRACKERS))][0],
            priority_id=PRIORITIES[randrange(len(PRIORITIES))][0],
            author_id=by_login[draw.author],
            assigned_to_id=by_login[draw.assignee] if draw.assignee else None,
            labels=list(draw.labels),
            created_on=created,
            updated_on=last,
            closed_on=closed_on,
        )
        state.add_issue(issue)
    return state


__all__ = [
    "BOT_ID",
    "BOT_LOGIN",
    "DEFAULT_PRIORITY",
    "DEFAULT_STATUS",
    "LABELS_FIELD_ID",
    "LABELS_FIELD_NAME",
    "LABEL_VALUES",
    "PRIORITIES",
    "PROJECT_ID",
    "PROJECT_IDENTIFIER",
    "PROJECT_NAME",
    "STATUSES",
    "STATUS_BY_ID",
    "TRACKERS",
    "Issue",
    "Journal",
    "Person",
    "RedmineState",
    "Webhook",
    "seed_state",
]
