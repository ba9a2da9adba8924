"""Issue keys in development activity: commit messages, pull/merge request titles and bodies, branch names.

Pure text work, no I/O: :func:`extract_refs` reads a text, :func:`extract_branch_refs` a branch name; the
detection service (``runtime.link_detection``) resolves what they find against the tenant's synced issues.

What counts as a reference (what GitHub and GitLab themselves link):

* ``#123``: issue 123 of the same repository or project;
* ``owner/repo#123``, ``group/sub/project#123``: an issue of a named repository or project;
* ``PROJ-123``: a Jira issue, **only** for a project key the caller names (``jira_projects``: the project
  keys of the tenant's Jira connections). Without that list ``UTF-8``, ``SHA-256``, ``ISO-8601``,
  ``RFC-2119`` or ``CVE-2024`` would all read as keys; with it they cannot, whatever the text says;
* a closing keyword (``close``/``closes``/``closed``, ``fix``/``fixes``/``fixed``,
  ``resolve``/``resolves``/``resolved``, any case, ``:`` optional) before a reference marks it
  ``closes``, as do the references of a list that follows it (``Fixes #1, #2 and #3``), as GitLab reads it;
* in a branch name: the same keys, plus the leading number of ``123-short-title`` (the name GitHub and
  GitLab give a branch created from issue 123).

What never counts: anything inside a URL (``https://x/y#123``), an inline code span or a fenced code block,
an e-mail address, an HTML entity (``&#123;``), ``abc#123`` glued to a word, ``#123abc`` and hex SHAs
(``#`` must be followed by digits only; a Jira key must start with its project's letters).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

RefKind = Literal["number", "qualified", "jira"]
ActivityKind = Literal["commit", "pull_request", "merge_request"]

# Issue numbers and Jira numbers stay far below this; anything longer is a hash or an id, not a key.
MAX_NUMBER_DIGITS: Final = 9

_FENCED = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+|\bwww\.\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ENTITY = re.compile(r"&#\d+;")

_NUMBER = rf"[1-9]\d{{0,{MAX_NUMBER_DIGITS - 1}}}"
_PATH = r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)+"
# A reference: a qualified one (path#n), a same-repository one (#n), or a Jira-shaped one (ABC-n).
_REF = re.compile(
    rf"(?:(?<![\w/.#&-])(?P<path>{_PATH})#(?P<qnum>{_NUMBER})"
    rf"|(?<![\w/#&])#(?P<num>{_NUMBER})"
    rf"|(?<![\w.-])(?P<project>[A-Z][A-Z0-9_]{{1,9}})-(?P<jnum>{_NUMBER}))(?![\w#]|-\d)"
)
_KEYWORD = re.compile(r"(?<![\w-])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?![\w-])\s*:?\s*", re.IGNORECASE)
# What may stand between two references of one list after a closing keyword.
_LIST_GAP = re.compile(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+|&\s*)", re.IGNORECASE)
# ``12-login`` names issue 12; ``2024-01-hotfix`` names a date, not issue 2024.
_BRANCH_NUMBER = re.compile(rf"^(?:[\w.-]+/)*(?P<num>{_NUMBER})[-_](?!\d)")


@dataclass(frozen=True, slots=True)
class DevRef:
    """One issue reference found in a text.

    ``project`` is the repository or project path of a qualified reference, the Jira project key of a Jira
    one, and None for ``#123`` (the repository the text comes from). ``closes``: a closing keyword named it.
    """

    kind: RefKind
    number: int
    project: str | None = None
    closes: bool = False

    @property
    def key(self) -> str:
        """The reference as people write it: ``#12``, ``acme/widgets#12``, ``ACME-12``."""
        if self.kind == "jira":
            return f"{self.project}-{self.number}"
        if self.kind == "qualified":
            return f"{self.project}#{self.number}"
        return f"#{self.number}"

    @property
    def identity(self) -> tuple[str, str | None, int]:
        project = self.project.lower() if self.kind == "qualified" and self.project else self.project
        return (self.kind, project, self.number)


@dataclass(frozen=True, slots=True)
class DevActivity:
    """A commit, pull request (GitHub) or merge request (GitLab), as an adapter reads it from a listing or
    a webhook: what detection needs and no more. ``id`` is the commit's sha or the request's number (iid);
    ``text`` the commit message or the request's body; ``branch`` a request's source branch."""

    kind: ActivityKind
    id: str
    text: str
    at: datetime
    title: str | None = None
    branch: str | None = None
    url: str | None = None

    def refs(self, *, jira_projects: Collection[str] = ()) -> list[DevRef]:
        """Every reference of the title, text and branch, merged (a close anywhere closes)."""
        found = [
            *extract_refs(self.title, jira_projects=jira_projects),
            *extract_refs(self.text, jira_projects=jira_projects),
            *extract_branch_refs(self.branch, jira_projects=jira_projects),
        ]
        return merge(found)


def _blank(match: re.Match[str]) -> str:
    # Same length, so positions (and what is adjacent to what) stay as they were.
    return " " * (match.end() - match.start())


def scrub(text: str) -> str:
    """``text`` with code, URLs, e-mail addresses and HTML entities blanked out (never a reference)."""
    for pattern in (_FENCED, _INLINE_CODE, _URL, _EMAIL, _ENTITY):
        text = pattern.sub(_blank, text)
    return text


def _ref_of(match: re.Match[str], jira_projects: Collection[str], closes: bool) -> DevRef | None:
    if match.group("path"):
        return DevRef("qualified", int(match.group("qnum")), match.group("path"), closes)
    if match.group("num"):
        return DevRef("number", int(match.group("num")), None, closes)
    project = match.group("project")
    if project in jira_projects:
        return DevRef("jira", int(match.group("jnum")), project, closes)
    return None


def _closing_positions(text: str) -> set[int]:
    """Start offsets of the references a closing keyword governs (the first, and the list after it)."""
    starts: set[int] = set()
    for keyword in _KEYWORD.finditer(text):
        position = keyword.end()
        for _ in range(len(text)):  # bounded: each step consumes at least one reference
            ref = _REF.match(text, position)
            if ref is None:
                break
            starts.add(ref.start())
            gap = _LIST_GAP.match(text, ref.end())
            if gap is None or gap.end() == ref.end():
                break
            position = gap.end()
    return starts


def merge(refs: Iterable[DevRef]) -> list[DevRef]:
    """One reference per issue, first-seen order; ``closes`` when any occurrence closes it."""
    kept: dict[tuple[str, str | None, int], DevRef] = {}
    for ref in refs:
        seen = kept.get(ref.identity)
        if seen is None:
            kept[ref.identity] = ref
        elif ref.closes and not seen.closes:
            kept[ref.identity] = DevRef(seen.kind, seen.number, seen.project, True)
    return list(kept.values())


def extract_refs(text: str | None, *, jira_projects: Collection[str] = ()) -> list[DevRef]:
    """The issue references of a commit message or a pull/merge request title or body (module doc)."""
    if not text:
        return []
    clean = scrub(text)
    closing = _closing_positions(clean)
    found = (_ref_of(match, jira_projects, match.start() in closing) for match in _REF.finditer(clean))
    return merge(ref for ref in found if ref is not None)


def extract_branch_refs(branch: str | None, *, jira_projects: Collection[str] = ()) -> list[DevRef]:
    """The references of a branch name: its keys (``feature/ACME-12-login``), and the leading issue
    number of ``12-login`` or ``fix/12-login``. A branch never closes anything."""
    if not branch:
        return []
    refs = [DevRef(r.kind, r.number, r.project) for r in extract_refs(branch, jira_projects=jira_projects)]
    leading = _BRANCH_NUMBER.match(branch)
    if leading is not None:
        refs.append(DevRef("number", int(leading.group("num"))))
    return merge(refs)


__all__ = [
    "MAX_NUMBER_DIGITS",
    "ActivityKind",
    "DevActivity",
    "DevRef",
    "RefKind",
    "extract_branch_refs",
    "extract_refs",
    "merge",
    "scrub",
]
