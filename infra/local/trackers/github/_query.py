"""GitHub's issue search language for the sandbox's ``GET /search/issues``: parse ``q``, then match and rank.

A client's search query is a contract of its own: trackbridge's adapter sends ``repo:o/r is:issue <text>``,
people paste queries from github.com, and PyGithub builds ``q`` from keyword arguments. A fake that
substring-matched the whole ``q`` would pass all of them for the wrong reason, so the query is parsed into
the same parts GitHub documents ("Searching issues and pull requests", "Understanding the search syntax"):

- tokens are whitespace-separated; ``"..."`` quotes a phrase or a qualifier value (``label:"help wanted"``);
  a quote that is never closed is a 422, not a guess;
- ``name:value`` with a known ``name`` is a qualifier; ``-name:value`` negates it; repeated qualifiers must
  all hold, and a comma list (``label:bug,wip``) holds when any item does;
- anything else is text, matched case-insensitively as whole words (``tb-contract-marker`` is the three
  words ``tb contract marker`` in a row, as GitHub splits on punctuation) in the title, body and comments,
  or only where ``in:title,body,comments`` says; a ``"quoted phrase"`` matches its words in a row;
  ``NOT word`` excludes; ``AND`` is the default and may be written;
- a ``name:value`` whose ``name`` GitHub does not know is text, as GitHub treats it;
- dates (``created``, ``updated``, ``closed``, ``merged``) take ``YYYY-MM-DD`` or an ISO 8601 time, with
  ``>``, ``>=``, ``<``, ``<=``, ``a..b`` and ``*`` for an open end; a bare date is the whole UTC day;
  counts (``comments``, ``interactions``, ``reactions``) take the same operators;
- qualifiers about data the sandbox never has (milestones, projects, reviews, commit statuses, branches,
  teams, linked pull requests) are understood and match nothing, as they would on a repository without it.

GitHub's limits on the query: more than 256 characters of text, or more than five ``AND``/``OR``/``NOT``,
is a 422. ``OR`` is not modelled (the sandbox answers 422 rather than a wrong result set).

Best match (the default order) is a score from where the words were found: a title hit counts more than a
body hit, a body hit more than a comment hit; a query without text scores every result 1.0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .._clock import parse_iso
from ._state import GitHubState, Issue

__all__ = [
    "MAX_OPERATORS",
    "MAX_TEXT_CHARS",
    "SORTS",
    "IssueQuery",
    "SearchError",
    "parse_query",
    "search",
]

MAX_TEXT_CHARS = 256  # GitHub: "Queries longer than 256 characters are not supported"
MAX_OPERATORS = 5  # GitHub: no more than five AND, OR or NOT operators
SORTS = (
    "comments",
    "reactions",
    "reactions-+1",
    "reactions--1",
    "reactions-smile",
    "reactions-thinking_face",
    "reactions-heart",
    "reactions-tada",
    "interactions",
    "created",
    "updated",
)
FIELDS = ("title", "body", "comments")
# Where a word was found decides how much it adds to the best-match score.
_WEIGHTS = {"title": 3.0, "body": 1.0, "comments": 0.5}
_DAY = 86_400

# A token: optional "-", optional "name:", then bare characters and "quoted runs" up to whitespace.
_TOKEN = re.compile(r'(?P<neg>-)?(?:(?P<name>[A-Za-z][\w-]*):)?(?P<value>(?:"[^"]*"|[^\s"])+)(?=\s|$)')
_ITEM = re.compile(r'"(?P<quoted>[^"]*)"|(?P<bare>[^,"]+)')
_WORD = re.compile(r"\w+")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")

Predicate = Callable[[Issue, GitHubState], bool]


class SearchError(ValueError):
    """A query GitHub would refuse with 422; ``str(error)`` is the message put in the ``errors`` item."""


@dataclass(frozen=True, slots=True)
class _Token:
    name: str | None  # the qualifier name as written, or None for text
    value: str  # quotes removed
    items: tuple[str, ...]  # the value's comma list (label:bug,"help wanted"), quotes removed
    negated: bool
    quoted: bool  # the whole value was one "quoted run"
    raw: str  # exactly as written (an unknown qualifier becomes this text)


@dataclass(frozen=True, slots=True)
class _Text:
    words: tuple[str, ...]
    excluded: bool


@dataclass(frozen=True, slots=True)
class IssueQuery:
    """A parsed ``q``: where to look (``repos``, ``owners``), what must hold, and the text to find."""

    repos: tuple[str, ...]  # "owner/name", lower case
    owners: tuple[str, ...]  # user: / org:, lower case
    filters: tuple[Predicate, ...]
    texts: tuple[_Text, ...]
    fields: tuple[str, ...]

    def covers(self, owner: str, repo: str) -> bool:
        """Whether ``owner/repo`` is inside the query's scope (no ``repo:``/``user:``/``org:`` means all)."""
        full = f"{owner}/{repo}".lower()
        if self.repos and full not in self.repos:
            return False
        return not self.owners or owner.lower() in self.owners

    def unknown_scopes(self, owner: str, repo: str) -> list[str]:
        """Scopes naming a repository or account other than ``owner/repo``: GitHub refuses those with 422."""
        full = f"{owner}/{repo}".lower()
        return [name for name in self.repos if name != full] + [
            name for name in self.owners if name != owner.lower()
        ]

    def score(self, issue: Issue, state: GitHubState) -> float | None:
        """The best-match score, or ``None`` when ``issue`` does not match."""
        if not all(check(issue, state) for check in self.filters):
            return None
        if not self.texts:
            return 1.0
        words = {name: _field_words(issue, state, name) for name in self.fields}
        total = 0.0
        for text in self.texts:
            hits = {name: _count(haystack, text.words) for name, haystack in words.items()}
            found = any(hits.values())
            if found == text.excluded:
                return None
            if not text.excluded:
                total += sum(_WEIGHTS[name] * count for name, count in hits.items())
        return round(total, 3) or 1.0  # only excluded words: every result is as good a match


def parse_query(q: str, *, viewer: str) -> IssueQuery:
    """Parse GitHub's issue-search ``q``; ``viewer`` is who ``@me`` means. Raises :class:`SearchError`."""
    tokens = _tokenize(q)
    repos: list[str] = []
    owners: list[str] = []
    filters: list[Predicate] = []
    texts: list[_Text] = []
    fields: list[str] = []
    operators = 0
    exclude_next = False
    text_parts: list[str] = []
    for token in tokens:
        if token.name is None and not token.quoted and token.value in ("AND", "OR", "NOT"):
            operators += 1
            if token.value == "OR":
                raise SearchError(
                    "The sandbox does not support OR in issue searches; send one query per branch."
                )
            exclude_next = token.value == "NOT"
            continue
        name = token.name.lower() if token.name else None
        if name is None or name not in _KNOWN:
            text = token.value if name is None else token.raw.lstrip("-")
            text_parts.append(text)
            words = tuple(_WORD.findall(text.lower()))
            if words:  # punctuation alone finds nothing on GitHub either
                texts.append(_Text(words, exclude_next))
            exclude_next = False
            continue
        negated = token.negated or exclude_next  # NOT label:x is -label:x
        exclude_next = False
        value = token.value.strip()
        if name in ("repo", "user", "org") and not negated:
            # Checked against what exists by the caller: an unknown name is GitHub's 422, not "no results".
            (repos if name == "repo" else owners).append(value.lower())
            continue
        if name == "in":
            if negated:
                raise SearchError("The in: qualifier cannot be negated.")
            fields += _fields(token.items, value)
            continue
        check = _labels(token.items) if name == "label" else _QUALIFIERS[name](value, viewer)
        filters.append(_negate(check) if negated else check)
    if exclude_next:
        raise SearchError("NOT must be followed by the text to exclude.")
    if operators > MAX_OPERATORS:
        raise SearchError(f"The search contains more than {MAX_OPERATORS} AND, OR or NOT operators.")
    if len(" ".join(text_parts)) > MAX_TEXT_CHARS:
        raise SearchError(f"The search is longer than {MAX_TEXT_CHARS} characters.")
    return IssueQuery(
        tuple(dict.fromkeys(repos)),
        tuple(dict.fromkeys(owners)),
        tuple(filters),
        tuple(texts),
        tuple(dict.fromkeys(fields)) or FIELDS,
    )


def search(
    query: IssueQuery, state: GitHubState, sort: str | None, descending: bool
) -> list[tuple[int, float]]:
    """``(number, score)`` of every matching issue and pull request, in the order GitHub would list them.

    Without ``sort`` the order is best match (highest score first, newest first among equals) and
    ``descending`` is ignored, as GitHub ignores ``order`` then.
    """
    found = [
        (issue, score)
        for issue in state.issues
        if issue is not None and (score := query.score(issue, state)) is not None
    ]
    if sort is None:
        found.sort(key=lambda pair: (pair[1], pair[0].number), reverse=True)
    else:
        key = _SORT_KEYS.get(sort, _no_reactions)
        found.sort(key=lambda pair: (key(pair[0]), pair[0].number), reverse=descending)
    return [(issue.number, score) for issue, score in found]


# ------------------------------------------------------------------------------------------------ parsing


def _tokenize(q: str) -> list[_Token]:
    tokens: list[_Token] = []
    position, end = 0, len(q)
    while position < end:
        if q[position].isspace():
            position += 1
            continue
        match = _TOKEN.match(q, position)
        if match is None:
            raise SearchError('The search has a quote (") that is never closed.')
        name, written = match["name"], match["value"]
        quoted = len(written) >= 2 and written[0] == written[-1] == '"' and written.count('"') == 2
        items = tuple(
            (item["quoted"] if item["quoted"] is not None else item["bare"]).strip()
            for item in _ITEM.finditer(written)
        )
        # "-word" is text: GitHub's minus excludes qualifiers only (NOT excludes text).
        value = (
            written.replace('"', "") if name is not None or not match["neg"] else match[0].replace('"', "")
        )
        negated = bool(match["neg"]) and name is not None
        tokens.append(_Token(name, value, items, negated=negated, quoted=quoted, raw=match[0]))
        position = match.end()
    if not tokens:
        raise SearchError("The search is empty.")
    return tokens


def _fields(items: Iterable[str], value: str) -> list[str]:
    fields: list[str] = []
    for item in items:
        field = "comments" if item.lower() == "comment" else item.lower()
        if field not in FIELDS:
            raise SearchError(f"in:{value} is not one of title, body, comments.")
        fields.append(field)
    return fields


def _negate(check: Predicate) -> Predicate:
    return lambda issue, state: not check(issue, state)


# ------------------------------------------------------------------------------------------------ qualifiers


def _never(value: str, viewer: str) -> Predicate:
    """Qualifiers about data the sandbox repository never has: nothing matches, ``-`` matches everything."""
    return lambda issue, state: False


def _login(value: str, viewer: str) -> str:
    login = value.strip().lower()
    if login == "@me":
        return viewer.lower()
    return login.removeprefix("@")


def _is(value: str, viewer: str) -> Predicate:
    checks: dict[str, Predicate] = {
        "issue": lambda issue, state: not issue.pull,
        "pr": lambda issue, state: issue.pull,
        "pull-request": lambda issue, state: issue.pull,
        "open": lambda issue, state: issue.state == "open",
        "closed": lambda issue, state: issue.state == "closed",
        "merged": lambda issue, state: issue.pull and issue.merged_at is not None,
        "unmerged": lambda issue, state: issue.pull and issue.merged_at is None,
        "draft": lambda issue, state: issue.pull and issue.draft,
        "locked": lambda issue, state: issue.locked,
        "unlocked": lambda issue, state: not issue.locked,
        "private": lambda issue, state: True,  # the sandbox repository is private
        "public": lambda issue, state: False,
        "queued": lambda issue, state: False,  # no merge queue
    }
    check = checks.get(value.lower())
    if check is None:
        raise SearchError(f"is:{value} is not a state, type or visibility GitHub knows.")
    return check


def _type(value: str, viewer: str) -> Predicate:
    wanted = value.lower()
    if wanted == "issue":
        return lambda issue, state: not issue.pull
    if wanted in ("pr", "pull-request"):
        return lambda issue, state: issue.pull
    raise SearchError(f"type:{value} is not issue or pr.")


def _state(value: str, viewer: str) -> Predicate:
    wanted = value.lower()
    if wanted not in ("open", "closed"):
        raise SearchError(f"state:{value} is not open or closed.")
    return lambda issue, state: issue.state == wanted


def _labels(items: Iterable[str]) -> Predicate:
    """``label:a,b`` holds when the issue has either label (names compare case-insensitively)."""
    wanted = {item.lower() for item in items if item}
    return lambda issue, state: any(name.lower() in wanted for name in issue.labels)


def _author(value: str, viewer: str) -> Predicate:
    login = _login(value, viewer)
    return lambda issue, state: issue.user.lower() == login


def _assignee(value: str, viewer: str) -> Predicate:
    if value.strip() == "*":
        return lambda issue, state: bool(issue.assignees)
    login = _login(value, viewer)
    return lambda issue, state: any(person.lower() == login for person in issue.assignees)


def _commenter(value: str, viewer: str) -> Predicate:
    login = _login(value, viewer)

    def check(issue: Issue, state: GitHubState) -> bool:
        comments = state.comments
        ids = state.comments_by_issue.get(issue.number, ())
        return any(comments[cid].user.lower() == login for cid in ids if cid in comments)

    return check


def _mentions(value: str, viewer: str) -> Predicate:
    pattern = re.compile(rf"(?<![\w@])@{re.escape(_login(value, viewer))}(?![\w-])", re.IGNORECASE)

    def check(issue: Issue, state: GitHubState) -> bool:
        return any(pattern.search(text) for text in _texts(issue, state, ("body", "comments")))

    return check


def _involves(value: str, viewer: str) -> Predicate:
    parts = (
        _author(value, viewer),
        _assignee(value, viewer),
        _commenter(value, viewer),
        _mentions(value, viewer),
    )
    return lambda issue, state: any(part(issue, state) for part in parts)


def _no(value: str, viewer: str) -> Predicate:
    missing = value.lower()
    if missing == "label":
        return lambda issue, state: not issue.labels
    if missing == "assignee":
        return lambda issue, state: not issue.assignees
    if missing in ("milestone", "project"):
        return lambda issue, state: True  # the sandbox has neither
    raise SearchError(f"no:{value} is not one of label, assignee, milestone, project.")


def _reason(value: str, viewer: str) -> Predicate:
    wanted = value.lower().replace(" ", "_")
    if wanted not in ("completed", "not_planned", "duplicate"):
        raise SearchError(f'reason:{value} is not completed, "not planned" or duplicate.')
    return lambda issue, state: issue.state == "closed" and issue.state_reason == wanted


def _draft(value: str, viewer: str) -> Predicate:
    wanted = value.lower()
    if wanted not in ("true", "false"):
        raise SearchError(f"draft:{value} is not true or false.")
    return lambda issue, state: issue.pull and issue.draft == (wanted == "true")


def _language(value: str, viewer: str) -> Predicate:
    wanted = value.lower()
    return lambda issue, state: wanted in (name.lower() for name in state.languages)


def _archived(value: str, viewer: str) -> Predicate:
    wanted = value.lower()
    if wanted not in ("true", "false"):
        raise SearchError(f"archived:{value} is not true or false.")
    return lambda issue, state: wanted == "false"  # the sandbox repository is not archived


def _date_bound(text: str) -> tuple[int, int]:
    """``[start, end)`` in epoch seconds: a whole UTC day for ``YYYY-MM-DD``, one second for a time."""
    try:
        start = parse_iso(text)
    except ValueError:
        raise SearchError(f"{text} is not a date (YYYY-MM-DD) or an ISO 8601 time.") from None
    return (start, start + _DAY) if _DATE_ONLY.fullmatch(text.strip()) else (start, start + 1)


def _count_bound(text: str) -> tuple[int, int]:
    try:
        number = int(text)
    except ValueError:
        raise SearchError(f"{text} is not a whole number.") from None
    return number, number + 1


def _bounds(value: str, bound: Callable[[str], tuple[int, int]]) -> tuple[int | None, int | None]:
    """``[low, high)`` from GitHub's range syntax; ``None`` is an open end."""
    text = value.strip()
    for operator in (">=", "<=", ">", "<"):
        if text.startswith(operator):
            start, end = bound(text[len(operator) :])
            return {">=": (start, None), ">": (end, None), "<": (None, start), "<=": (None, end)}[operator]
    if ".." in text:
        first, _, last = text.partition("..")
        low = None if first in ("", "*") else bound(first)[0]
        high = None if last in ("", "*") else bound(last)[1]
        return low, high
    return bound(text)


def _ranged(
    read: Callable[[Issue], int | None], bound: Callable[[str], tuple[int, int]]
) -> Callable[[str, str], Predicate]:
    def build(value: str, viewer: str) -> Predicate:
        low, high = _bounds(value, bound)

        def check(issue: Issue, state: GitHubState) -> bool:
            actual = read(issue)
            if actual is None:
                return False
            return (low is None or actual >= low) and (high is None or actual < high)

        return check

    return build


def _in_repo(value: str, viewer: str) -> Predicate:
    return lambda issue, state: state.full_name.lower() == value.lower()


def _owned_by(value: str, viewer: str) -> Predicate:
    return lambda issue, state: state.owner.lower() == value.lower()


# Qualifier name -> builder of its predicate from the value (parse_query negates it for "-name:").
# repo/user/org are built only when negated: otherwise they scope the search (IssueQuery.covers).
_QUALIFIERS: dict[str, Callable[[str, str], Predicate]] = {
    "repo": _in_repo,
    "user": _owned_by,
    "org": _owned_by,
    "is": _is,
    "type": _type,
    "state": _state,
    "author": _author,
    "assignee": _assignee,
    "commenter": _commenter,
    "mentions": _mentions,
    "involves": _involves,
    "no": _no,
    "reason": _reason,
    "draft": _draft,
    "language": _language,
    "archived": _archived,
    "created": _ranged(lambda issue: issue.created_at, _date_bound),
    "updated": _ranged(lambda issue: issue.updated_at, _date_bound),
    "closed": _ranged(lambda issue: issue.closed_at, _date_bound),
    "merged": _ranged(lambda issue: issue.merged_at, _date_bound),
    "comments": _ranged(lambda issue: issue.comments, _count_bound),
    "interactions": _ranged(lambda issue: issue.comments, _count_bound),  # no reactions in the sandbox
    "reactions": _ranged(lambda issue: 0, _count_bound),
    **{
        name: _never
        for name in (
            "milestone",
            "project",
            "status",
            "head",
            "base",
            "review",
            "reviewed-by",
            "review-requested",
            "user-review-requested",
            "team-review-requested",
            "team",
            "linked",
        )
    },
}
# in: says where text is looked for; label: is built from the comma list with its quotes (_labels).
_KNOWN = frozenset({*_QUALIFIERS, "in", "label"})


# ------------------------------------------------------------------------------------------------ text


def _texts(issue: Issue, state: GitHubState, fields: Iterable[str]) -> list[str]:
    texts: list[str] = []
    for field in fields:
        if field == "title":
            texts.append(issue.title)
        elif field == "body":
            texts.append(issue.body or "")
        else:
            comments = state.comments
            texts += [
                comments[cid].body for cid in state.comments_by_issue.get(issue.number, ()) if cid in comments
            ]
    return texts


def _field_words(issue: Issue, state: GitHubState, field: str) -> list[str]:
    if field == "comments":
        # One list per comment joined with a break, so a phrase never spans two comments.
        words: list[str] = []
        for text in _texts(issue, state, ("comments",)):
            words += [*_WORD.findall(text.lower()), ""]
        return words
    return _WORD.findall(_texts(issue, state, (field,))[0].lower())


def _count(haystack: list[str], needle: tuple[str, ...]) -> int:
    """How often ``needle``'s words occur in a row in ``haystack``."""
    size = len(needle)
    if size == 1:
        return haystack.count(needle[0])
    first = needle[0]
    return sum(
        1
        for index, word in enumerate(haystack)
        if word == first and tuple(haystack[index : index + size]) == needle
    )


def _no_reactions(issue: Issue) -> int:
    return 0  # the sandbox has no reactions: every item ties and the number decides


_SORT_KEYS: dict[str, Callable[[Issue], int]] = {
    "created": lambda issue: issue.created_at,
    "updated": lambda issue: issue.updated_at,
    "comments": lambda issue: issue.comments,
    "interactions": lambda issue: issue.comments,
}
