"""The GitHub sandbox's in-memory truth: compact records, deterministic seeding, and the indexes lists use.

Records hold only what changes or identifies (numbers, logins, timestamps as epoch seconds); the full
GitHub JSON is rendered per response by ``_render``. Text comes from small shared pools, so 100,000
issues with 3 comments each stay in a few hundred MB and seed in seconds.

Issues and pull requests share one number sequence, as on GitHub: ``issues[number - 1]`` is the record (or
``None`` once deleted), and ``by_updated`` orders ``(updated_at, number)`` for ``sort=updated`` and ``since``.
Comment ids grow with creation time, so ``comment_ids`` is already in ``sort=created`` order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .._clock import SEED_EPOCH
from .._paging import SortedKeys
from .._seed_words import COMMENTS as _COMMENTS
from .._seed_words import issue_sentences
from .._seeding import (
    draw_issue,
    issue_slots,
    next_touch,
    seed_person,
    seeded_branch,
    seeded_commit_message,
)

OWNER = "acme"
REPO = "widgets"
BOT_LOGIN = "sandbox-bot"  # the token owner; owns the repository
OUTSIDER_LOGIN = "outsider"  # a valid token that cannot see the repository

REPO_ID = 700_000_001
OWNER_ID = 90_000_001
ISSUE_ID_BASE = 2_000_000_000
COMMENT_ID_BASE = 3_000_000_000
PULL_ID_BASE = 1_500_000_000
LABEL_ID_BASE = 5_000_000_000
HOOK_ID_BASE = 400_000_000
ISSUE_TYPE_ID_BASE = 600_000

# GitHub's default labels (name, color, description), as every new repository gets them.
DEFAULT_LABELS: tuple[tuple[str, str, str], ...] = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)

_SENTENCES = issue_sentences("run")


@dataclass(slots=True)
class User:
    id: int
    login: str
    name: str
    created_at: int
    type: str = "User"


@dataclass(slots=True)
class Label:
    id: int
    name: str
    color: str
    description: str | None
    default: bool


@dataclass(slots=True)
class Issue:
    """An issue or, with ``pull`` set, a pull request (GitHub lists both under ``/issues``)."""

    number: int
    title: str
    body: str | None
    user: str
    state: str
    state_reason: str | None
    labels: list[str]
    assignees: list[str]
    created_at: int
    updated_at: int
    closed_at: int | None = None
    closed_by: str | None = None
    comments: int = 0
    locked: bool = False
    pull: bool = False
    draft: bool = False
    merged_at: int | None = None
    head_ref: str | None = None  # a pull request's branch (rendered as feature-<number> when None)
    issue_type: str | None = None  # the name of one of the organization's issue types
    parent: int | None = None  # the parent issue's number (sub-issues live in the same repository here)
    sub_issues: list[int] = field(default_factory=list)  # children in GitHub's order
    blocked_by: list[int] = field(default_factory=list)
    blocking: list[int] = field(default_factory=list)  # the reverse of blocked_by, kept in step with it

    @property
    def id(self) -> int:
        return (PULL_ID_BASE if self.pull else ISSUE_ID_BASE) + self.number


@dataclass(slots=True)
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Hook:
    id: int
    url: str
    content_type: str
    secret: str | None
    insecure_ssl: str
    events: list[str]
    active: bool
    created_at: int
    updated_at: int


@dataclass(slots=True)
class Commit:
    sha: str
    message: str
    author: str
    date: int
    parent: str | None


@dataclass(slots=True)
class Release:
    id: int
    tag_name: str
    name: str
    body: str
    author: str
    created_at: int
    published_at: int
    prerelease: bool
    target: str


@dataclass(slots=True)
class Advisory:
    ghsa_id: str
    summary: str
    description: str
    severity: str
    state: str
    ecosystem: str
    package: str
    vulnerable: str
    patched: str
    cwe: tuple[str, str]
    score: float
    vector: str
    created_at: int
    updated_at: int
    published_at: int | None
    closed_at: int | None


@dataclass(slots=True)
class IssueType:
    """An organization's issue type (``GET /orgs/{org}/issue-types``)."""

    id: int
    name: str
    description: str
    color: str


# The types GitHub gives a new organization.
ISSUE_TYPES: tuple[IssueType, ...] = (
    IssueType(ISSUE_TYPE_ID_BASE + 1, "Task", "A specific piece of work", "yellow"),
    IssueType(ISSUE_TYPE_ID_BASE + 2, "Bug", "An unexpected problem or behavior", "red"),
    IssueType(ISSUE_TYPE_ID_BASE + 3, "Feature", "A request, idea, or new functionality", "blue"),
)


@dataclass(slots=True)
class GitHubState:
    owner: str = OWNER
    repo: str = REPO
    users: dict[str, User] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    issues: list[Issue | None] = field(default_factory=list)
    by_updated: SortedKeys = field(default_factory=SortedKeys)
    comments: dict[int, Comment] = field(default_factory=dict)
    comment_ids: list[int] = field(default_factory=list)
    comments_by_issue: dict[int, list[int]] = field(default_factory=dict)
    comments_by_updated: SortedKeys = field(default_factory=SortedKeys)
    hooks: dict[int, Hook] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    advisories: list[Advisory] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)
    issue_types: tuple[IssueType, ...] = ISSUE_TYPES
    created_at: int = SEED_EPOCH - 3 * 365 * 86_400
    next_comment_id: int = COMMENT_ID_BASE + 1
    next_hook_id: int = HOOK_ID_BASE + 1
    next_label_id: int = LABEL_ID_BASE + 1
    # Kept up to date by the methods below, so no request scans 100,000 records to answer them.
    open_count: int = 0
    deleted_count: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    def issue(self, number: int) -> Issue | None:
        if 1 <= number <= len(self.issues):
            return self.issues[number - 1]
        return None

    def live_issues(self) -> list[Issue]:
        return [issue for issue in self.issues if issue is not None]

    def newest_update(self) -> int:
        keys = self.by_updated.keys()
        return keys[-1][0] if keys else self.created_at

    def set_state(self, issue: Issue, new_state: str) -> None:
        if new_state != issue.state:
            self.open_count += 1 if new_state == "open" else -1
            issue.state = new_state

    def label(self, name: str) -> Label:
        """The label called ``name`` (case-insensitive, as GitHub), created with a grey colour if new."""
        for label in self.labels.values():
            if label.name.lower() == name.lower():
                return label
        label = Label(self.next_label_id, name, "ededed", None, False)
        self.next_label_id += 1
        self.labels[name] = label
        return label

    def set_updated(self, issue: Issue, at: int) -> None:
        if issue.updated_at != at:
            self.by_updated.replace((issue.updated_at, issue.number), (at, issue.number))
            issue.updated_at = at

    def add_issue(self, issue: Issue) -> None:
        self.issues.append(issue)
        self.by_updated.add((issue.updated_at, issue.number))
        self.open_count += 1 if issue.state == "open" else 0

    def remove_issue(self, issue: Issue) -> None:
        self.issues[issue.number - 1] = None
        self.deleted_count += 1
        self.open_count -= 1 if issue.state == "open" else 0
        self.by_updated.remove((issue.updated_at, issue.number))
        for comment_id in self.comments_by_issue.pop(issue.number, []):
            self.drop_comment(self.comments[comment_id])
        self._detach(issue)

    def _detach(self, issue: Issue) -> None:
        """A deleted issue leaves its parent's, children's, blockers' and blocked issues' lists."""
        number = issue.number
        if issue.parent is not None and (parent := self.issue(issue.parent)) is not None:
            parent.sub_issues = [n for n in parent.sub_issues if n != number]
        for other in map(self.issue, (*issue.sub_issues, *issue.blocked_by, *issue.blocking)):
            if other is not None:
                other.parent = None if other.parent == number else other.parent
                other.blocked_by = [n for n in other.blocked_by if n != number]
                other.blocking = [n for n in other.blocking if n != number]

    def add_comment(self, comment: Comment) -> None:
        self.comments[comment.id] = comment
        self.comment_ids.append(comment.id)
        self.comments_by_issue.setdefault(comment.issue_number, []).append(comment.id)
        self.comments_by_updated.add((comment.updated_at, comment.id))

    def set_comment_updated(self, comment: Comment, at: int) -> None:
        if comment.updated_at != at:
            self.comments_by_updated.replace((comment.updated_at, comment.id), (at, comment.id))
            comment.updated_at = at

    def drop_comment(self, comment: Comment) -> None:
        self.comments.pop(comment.id, None)
        self.comment_ids.remove(comment.id)
        per_issue = self.comments_by_issue.get(comment.issue_number)
        if per_issue and comment.id in per_issue:
            per_issue.remove(comment.id)
        self.comments_by_updated.remove((comment.updated_at, comment.id))


def _not_a_pull(number: int) -> bool:
    return number % 7 != 0  # seed_state makes every 7th number a pull request


def _hex(rng: random.Random, length: int = 40) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


def seed_state(
    rng: random.Random, *, issues: int, comments_per_issue: int, closed_ratio: float, users: int
) -> GitHubState:
    """A repository ``acme/widgets`` with ``issues`` numbers (every 7th a pull request) and their comments.

    Only ``rng`` and ``SEED_EPOCH`` decide the content, so one seed always gives the same state.
    """
    state = GitHubState()
    bot = User(OWNER_ID, BOT_LOGIN, "Sandbox Bot", state.created_at)
    state.users[bot.login] = bot
    for index in range(users):
        person = seed_person(index)
        login = person.handle("-")
        state.users[login] = User(OWNER_ID + 1 + index, login, person.name, state.created_at)
    state.users[OUTSIDER_LOGIN] = User(OWNER_ID + 50_000, OUTSIDER_LOGIN, "Out Sider", state.created_at)
    for offset, (name, color, description) in enumerate(DEFAULT_LABELS):
        state.labels[name] = Label(LABEL_ID_BASE - 100 + offset, name, color, description, True)
    people = [login for login in state.users if login != OUTSIDER_LOGIN]
    label_names = [name for name, _, _ in DEFAULT_LABELS]

    # Issues are spaced evenly over the years before SEED_EPOCH; comments follow their issue.
    span = SEED_EPOCH - state.created_at - 86_400
    step, gap = issue_slots(state.created_at, SEED_EPOCH - 86_400, issues, comments_per_issue)
    random_ = rng.random
    randrange = rng.randrange
    issue_list = state.issues
    comment_list_ids = state.comment_ids
    comments_map = state.comments
    by_issue = state.comments_by_issue
    comment_updated_keys: list[tuple[int, int]] = []
    next_comment = state.next_comment_id
    for number in range(1, issues + 1):
        created = state.created_at + number * step
        draw = draw_issue(rng, people, _SENTENCES, label_names, 0.5)
        is_pull = number % 7 == 0
        last_touch = created
        ids: list[int] = []
        for _ in range(comments_per_issue):
            # Comments stay inside their issue's slot, so comment ids grow with created_at as on GitHub.
            last_touch = next_touch(randrange, last_touch, gap, created + step - 1)
            comment = Comment(
                next_comment,
                number,
                people[randrange(len(people))],
                _COMMENTS[randrange(len(_COMMENTS))],
                last_touch,
                last_touch,
            )
            comments_map[next_comment] = comment
            comment_list_ids.append(next_comment)
            comment_updated_keys.append((last_touch, next_comment))
            ids.append(next_comment)
            next_comment += 1
        if ids:
            by_issue[number] = ids
        updated = min(last_touch + randrange(3_600), SEED_EPOCH - 1)
        issue = Issue(
            number,
            f"{draw.title} (#{number})",
            draw.body,
            draw.author,
            "open",
            None,
            draw.labels,
            [draw.assignee] if draw.assignee else [],
            created,
            updated,
            comments=len(ids),
            pull=is_pull,
            draft=is_pull and random_() < 0.2,
            head_ref=seeded_branch(number, number - 1) if is_pull else None,
        )
        if random_() < closed_ratio:
            issue.state = "closed"
            issue.closed_at = updated
            issue.closed_by = people[randrange(len(people))]
            if is_pull:
                issue.merged_at = updated if random_() < 0.8 else None
            else:
                issue.state_reason = "completed" if random_() < 0.8 else "not_planned"
        issue_list.append(issue)
    state.next_comment_id = next_comment
    state.open_count = sum(1 for issue in issue_list if issue is not None and issue.state == "open")
    state.by_updated = SortedKeys([(issue.updated_at, issue.number) for issue in issue_list if issue])
    state.comments_by_updated = SortedKeys(comment_updated_keys)

    parent: str | None = None
    for index in range(60):
        sha = _hex(rng)
        when = state.created_at + (index + 1) * (span // 61)
        message = seeded_commit_message(index, issues, is_issue=_not_a_pull)
        state.commits.append(Commit(sha, message, people[randrange(len(people))], when, parent))
        parent = sha
    state.commits.reverse()  # newest first, as GET /commits lists them
    for index in range(6):
        published = state.created_at + (index + 1) * (span // 7)
        state.releases.append(
            Release(
                80_000_000 + index,
                f"v1.{index}.0",
                f"Widgets 1.{index}",
                f"Release notes for 1.{index}.0",
                BOT_LOGIN,
                published - 3_600,
                published,
                index == 5,
                "main",
            )
        )
    state.releases.reverse()
    severities = ("low", "medium", "high", "critical")
    states = ("published", "published", "published", "closed", "draft", "triage", "published")
    for index, advisory_state in enumerate(states):
        created = state.created_at + (index + 1) * (span // 8)
        advisory_published = created + 86_400 if advisory_state in ("published", "closed") else None
        ghsa = "GHSA-" + "-".join(_hex(rng, 4).replace("0", "x") for _ in range(3))
        state.advisories.append(
            Advisory(
                ghsa,
                f"Sandbox advisory {index + 1}: unsafe input handling",
                "An attacker could crash a worker.",
                severities[index % 4],
                advisory_state,
                "pip",
                "acme-widgets",
                f"< 1.{index}.1",
                f"1.{index}.1",
                ("CWE-20", "Improper Input Validation"),
                5.0 + index / 2,
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
                created,
                created + 2 * 86_400,
                advisory_published,
                created + 3 * 86_400 if advisory_state == "closed" else None,
            )
        )
    _seed_relations(state)
    state.languages = {"Python": 412_345 + randrange(10_000), "Shell": 9_876, "Dockerfile": 1_024}
    return state


# Seeded hierarchy: #122 is the parent of #123 and #124, and #125 is blocked by #121 (none is a pull request).
# Past the first 120 numbers, so sandboxes of up to 120 issues (the adapter contract's, whose request floors
# count listing pages only) have none; the mutations ``sub_issue`` and ``block`` add more.
SEEDED_PARENT, SEEDED_CHILDREN, SEEDED_BLOCKED, SEEDED_BLOCKER = 122, (123, 124), 125, 121


def _seed_relations(state: GitHubState) -> None:
    """Issue types by number (1 mod 3 a Bug, 2 mod 3 a Feature, the rest Tasks) and the seeded hierarchy,
    drawn from no random stream, so every other seeded value stays as it was."""
    for issue in state.issues:
        if issue is not None and not issue.pull:
            issue.issue_type = ("Task", "Bug", "Feature")[issue.number % 3]
    parent = state.issue(SEEDED_PARENT)
    children = [child for n in SEEDED_CHILDREN if (child := state.issue(n)) is not None]
    if parent is not None and len(children) == len(SEEDED_CHILDREN):
        parent.sub_issues = [child.number for child in children]
        for child in children:
            child.parent = parent.number
    blocked, blocker = state.issue(SEEDED_BLOCKED), state.issue(SEEDED_BLOCKER)
    if blocked is not None and blocker is not None:
        blocked.blocked_by = [SEEDED_BLOCKER]
        blocker.blocking = [SEEDED_BLOCKED]
