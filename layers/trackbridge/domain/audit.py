"""Audit entries: who changed what, when, through which request; secrets never appear, only that they changed.

Every change made through the API or the CLI (connection create/update/delete, API key create) writes an
:class:`AuditEntry`, in the same DynamoDB transaction as the change itself, so the audit trail can neither
miss a change nor record one that did not happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.ids import IdPrefix, new_id
from trackbridge.domain.times import UtcDatetime

# What a diff shows for a secret that changed: that it changed, never a value or a hash of one.
SECRET_CHANGED: Final = "(changed)"  # noqa: S105 - a marker shown instead of a secret


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    old: Any = None
    new: Any = None


class Actor(BaseModel):
    """Who is acting: an API key id (``key_id``) or ``cli``, and the request that carried the change."""

    model_config = ConfigDict(frozen=True)

    id: str
    request_id: str | None = None


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    at: UtcDatetime
    actor: str
    action: str = Field(description="a dotted verb, e.g. connection.create")
    target: str = Field(description="the id of what changed")
    request_id: str | None = None
    changes: dict[str, FieldChange] = Field(default_factory=dict)


def new_entry(
    *, action: str, target: str, actor: Actor, at: datetime, changes: dict[str, FieldChange]
) -> AuditEntry:
    return AuditEntry(
        id=new_id(IdPrefix.AUDIT),
        at=at,
        actor=actor.id,
        action=action,
        target=target,
        request_id=actor.request_id,
        changes=changes,
    )


def diff(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    *,
    secrets_changed: tuple[str, ...] = (),
) -> dict[str, FieldChange]:
    """Field-by-field changes of two public views; ``secrets_changed`` names secrets that were replaced."""
    old, new = before or {}, after or {}
    changes = {
        name: FieldChange(old=old.get(name), new=new.get(name))
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }
    for name in secrets_changed:
        changes[name] = FieldChange(old=None, new=SECRET_CHANGED)
    return changes


__all__ = ["SECRET_CHANGED", "Actor", "AuditEntry", "FieldChange", "diff", "new_entry"]
