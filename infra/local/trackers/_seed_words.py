"""Word lists the sandbox trackers draw seed data from (deterministic per seed; shared by every provider)."""

from __future__ import annotations

FIRST = ("ada", "brook", "cato", "dana", "eli", "fern", "gus", "hana", "ivo", "jun", "kai", "lena", "milo")
LAST = ("stone", "rivers", "north", "vale", "quill", "marsh", "frost", "glen", "hale", "reed")
VERBS = (
    "Fix",
    "Add",
    "Improve",
    "Remove",
    "Refactor",
    "Document",
    "Investigate",
    "Speed up",
    "Handle",
    "Test",
)
NOUNS = (
    "login flow",
    "CSV export",
    "retry logic",
    "settings page",
    "search index",
    "webhook handler",
    "billing report",
    "cache layer",
    "audit log",
    "user import",
    "rate limiter",
    "dashboard chart",
)
# Comments on GitHub and GitLab issues (Jira keeps its own, shorter pool).
COMMENTS = (
    "I can reproduce this.",
    "Looking into it.",
    "Fixed in the latest build, please verify.",
    "Still happens for me.",
    "+1, same here.",
    "Could this be related to the cache change?",
    "Closing as the fix is deployed.",
    "Added a test for it.",
)


def issue_sentences(linked: str) -> tuple[str, ...]:
    """Issue bodies on GitHub and GitLab, whose reproduction steps live in a ``linked`` run or pipeline.

    The empty sentence stands for an issue without a body.
    """
    return (
        f"Steps to reproduce are in the linked {linked}.",
        "This started after the last deploy.",
        "Seen on staging and production.",
        "The workaround is to restart the worker, which is not great.",
        "Customers reported it twice this week.",
        "Logs attached below.",
        "Low priority, but it keeps coming back.",
        "A unit test would have caught this.",
        "Needs a decision from the owners before work starts.",
        "",
    )
