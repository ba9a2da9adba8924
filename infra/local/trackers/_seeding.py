"""The seed draws every sandbox tracker makes the same way: people's names, an issue's basics, time slots.

Each provider seeds its own records, but the people, titles, bodies, labels and assignees come from the same
random draws in the same order, and issue activity is laid out on the same evenly spaced timeline. Keeping
those draws here keeps the three sandboxes alike, and the order of ``rng`` calls (which fixes every seeded
value) in one place: change a draw here and every provider's seeded data changes with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._seed_words import FIRST, LAST, NOUNS, VERBS


@dataclass(frozen=True, slots=True)
class Person:
    """A seeded person's name parts; ``suffix`` keeps handles unique once the first/last pairs run out."""

    first: str
    last: str
    suffix: str

    def handle(self, separator: str) -> str:
        """The login or user name: ``ada-stone`` on GitHub, ``ada.stone`` on GitLab and Jira."""
        return f"{self.first}{separator}{self.last}{self.suffix}"

    @property
    def name(self) -> str:
        return f"{self.first.title()} {self.last.title()}"


def seed_person(index: int) -> Person:
    """The ``index``-th seeded person: every first name with each last name in turn, then numbered."""
    first, last = FIRST[index % len(FIRST)], LAST[(index // len(FIRST)) % len(LAST)]
    return Person(first, last, "" if index < len(FIRST) * len(LAST) else str(index))


@dataclass(frozen=True, slots=True)
class IssueDraw:
    """What a seeded issue draws before its comments: who filed it, its text, its label and assignee."""

    author: str
    title: str  # without the provider's "(#12)" / "(ACME-12)" suffix
    body: str | None
    labels: list[str]
    assignee: str | None


def draw_issue(
    rng: random.Random,
    people: Sequence[str],
    sentences: Sequence[str],
    label_pool: Sequence[str],
    assign_ratio: float,
) -> IssueDraw:
    """One issue's basics: an empty sentence means no body; 60% get a label, ``assign_ratio`` an assignee."""
    randrange = rng.randrange
    random_ = rng.random
    author = people[randrange(len(people))]
    title = f"{VERBS[randrange(len(VERBS))]} {NOUNS[randrange(len(NOUNS))]}"
    body = sentences[randrange(len(sentences))] or None
    labels = [label_pool[randrange(len(label_pool))]] if random_() < 0.6 else []
    assignee = people[randrange(len(people))] if random_() < assign_ratio else None
    return IssueDraw(author, title, body, labels, assignee)


def issue_slots(start: int, stop: int, issues: int, events: int) -> tuple[int, int]:
    """``(step, gap)``: issues spaced ``step`` apart from ``start`` towards ``stop``, and the largest random
    gap between the ``events`` (comments, notes, worklogs) that follow an issue inside its own slot."""
    step = max((stop - start) // max(issues, 1), 1)
    return step, max(step // (events + 1), 1)


def next_touch(randrange: Callable[[int], int], last: int, gap: int, slot_end: int, tick: int = 1) -> int:
    """The next event time after ``last``: at least ``tick`` later, never past the issue's ``slot_end``, so
    ids handed out in seeding order also grow with time."""
    return min(last + tick + randrange(gap), slot_end)


# Development activity (commits, pull and merge requests) names issues the way teams write them. These draw
# nothing from ``rng``: adding them left every other seeded value as it was.
# The seeded Jira project's key (``jira/_state.PROJECT_KEY``): commits name its issues as teams do.
JIRA_KEY = "ACME"
# Added to the issue count: a number no seeded issue has, so the commits naming it stay unresolved.
MISSING_ISSUE_OFFSET = 500


def seeded_commit_message(index: int, issues: int, *, is_issue: Callable[[int], bool] = bool) -> str:
    """The message of seeded commit ``index``: every third names an issue in turn as ``(#n)``,
    ``Fixes #n:``, ``Refs ACME-n`` (the seeded Jira project) and ``(#<no such issue>)``. ``is_issue`` says
    whether number ``n`` is an issue (GitHub's pull requests share the numbering): else ``n - 1`` is named."""
    text = f"{VERBS[index % len(VERBS)]} {NOUNS[index % len(NOUNS)]}"
    if issues < 1 or index % 3:
        return text
    number = index % issues + 1
    if not is_issue(number):
        number = max(number - 1, 1)
    variant = (index // 3) % 4
    if variant == 0:
        return f"{text} (#{number})"
    if variant == 1:
        return f"Fixes #{number}: {text}"
    if variant == 2:
        return f"{text}\n\nRefs {JIRA_KEY}-{(index // 3) % 5 + 1}"
    return f"{text} (#{issues + MISSING_ISSUE_OFFSET})"


def seeded_branch(number: int, issue: int) -> str:
    """The branch of seeded pull or merge request ``number``: ``<issue>-<words>`` for even numbers (the
    name both forges give a branch made from an issue), else ``feature/ACME-<n>-<words>``."""
    words = NOUNS[number % len(NOUNS)].replace(" ", "-").lower()
    if number % 2:
        return f"feature/{JIRA_KEY}-{number % 5 + 1}-{words}"
    return f"{issue}-{words}"
