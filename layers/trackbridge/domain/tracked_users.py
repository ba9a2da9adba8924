"""Tracked users of a Jira connection (issue 19): whose issues its syncs ingest.

With tracked users set, a connection's syncs ingest only issues where one of them is assignee, reporter or
worklog author (``providers.jql.involving``). The list lives on the connection document itself
(``Connection.tracked_users``), not in a record of its own: every slice of every sync already reads the
connection to build its adapter, so the list costs no extra read, and a change to it is one
version-conditioned write of the document that also carries the audit diff's "before".

Adding a user starts a backfill for that user alone: a full sync operation whose full pass names only the
new users (:class:`TrackedBackfill`, kept on the connection while it runs); its catch-up pass and every
later incremental pass name all tracked users. Removing a user stops future ingestion; stored issues stay.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

# Jira Cloud account ids: "5b10ac8d82e05b22cc7d4ef5" (old), "712020:<uuid>" (current), "qm:<uuid>:<uuid>"
# (some apps). Letters, digits, ':' '-' '_', at most 128: nothing that could need quoting in a URL or a log.
ACCOUNT_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9:_-]{0,127}$"
MAX_TRACKED_USERS: Final = 50
# The providers whose connections can track users (JQL's people fields): the capability's one holder.
TRACKED_USERS_CAPABILITY: Final = "tracked_users"
TRACKED_USERS_PROVIDERS: Final[frozenset[str]] = frozenset({"jira"})

AccountId = Annotated[str, Field(pattern=ACCOUNT_ID_PATTERN, examples=["712020:2c5e4a5e-8b7d-4c3a-9f1e"])]


class TrackedUsers(BaseModel):
    """Body and answer of ``GET/PUT /v1/connections/{id}/tracked-users``: Jira account ids, at most 50.
    An empty list tracks nobody in particular: the connection ingests its whole scope again."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"examples": [{"users": ["712020:2c5e4a5e-8b7d-4c3a-9f1e-0a1b2c3d4e5f"]}]},
    )

    users: list[AccountId] = Field(max_length=MAX_TRACKED_USERS)

    def unique(self) -> list[str]:
        """The users in the given order, without repeats."""
        return list(dict.fromkeys(self.users))


class TrackedBackfill(BaseModel):
    """The backfill a tracked-users change started: operation ``operation_id`` runs its full pass over
    ``users`` alone. ``tenant`` lets the sync's adapter factory (which is handed the connection only) ask
    whether that operation is the one running; a record whose operation ended is inert."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    operation_id: str
    users: list[str]


class TrackedUsersView(TrackedUsers):
    """What ``GET/PUT .../tracked-users`` answer: the list, and the backfill the last change started."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "users": ["712020:2c5e4a5e-8b7d-4c3a-9f1e-0a1b2c3d4e5f"],
                    "backfill_operation_id": "op_k7mq4xw2p5rtz3nb6hcd",
                    "backfill_users": ["712020:2c5e4a5e-8b7d-4c3a-9f1e-0a1b2c3d4e5f"],
                }
            ]
        },
    )

    backfill_operation_id: str | None = Field(
        None, description="the sync operation that backfills the users the last change added"
    )
    backfill_users: list[str] = Field(default_factory=list)


def added_users(before: list[str], after: list[str]) -> list[str]:
    """Users in ``after`` that ``before`` lacks, in ``after``'s order: the ones a backfill must read."""
    known = set(before)
    return [user for user in after if user not in known]


__all__ = [
    "ACCOUNT_ID_PATTERN",
    "MAX_TRACKED_USERS",
    "TRACKED_USERS_CAPABILITY",
    "TRACKED_USERS_PROVIDERS",
    "AccountId",
    "TrackedBackfill",
    "TrackedUsers",
    "TrackedUsersView",
    "added_users",
]
