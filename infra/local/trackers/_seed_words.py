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
