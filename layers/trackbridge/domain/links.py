"""Links between internal objects (a table, an alarm, a test case) and tracker issues, many to many.

An object is addressed by its key ``kind:database/schema/name`` (``GET /v1/links?object=...``); parts that
do not apply stay empty (``alarm://HighCPU``). Keys go into DynamoDB keys, so no part may hold ``#``, and
``/`` separates parts, so no part may hold it either.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trackbridge.domain.ids import is_issue_ref
from trackbridge.domain.times import UtcDatetime

KNOWN_OBJECT_KINDS: Final[tuple[str, ...]] = (
    "table",
    "schema",
    "view",
    "procedure",
    "alarm",
    "test_case",
    "design",
)
_PART = r"[^#/\s][^#/]{0,254}"
Part = Annotated[str, Field(pattern=f"^{_PART}$")]
LinkType = Literal["manual", "auto_created", "auto_detected"]


class ObjectRef(BaseModel):
    """An internal object. ``kind`` is open-ended (lowercase word): the known ones are listed above."""

    kind: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", examples=list(KNOWN_OBJECT_KINDS))]
    database: Part | None = None
    schema_: Part | None = Field(None, alias="schema")
    name: Part

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.database or ''}/{self.schema_ or ''}/{self.name}"

    @classmethod
    def parse_key(cls, text: str) -> ObjectRef:
        """The inverse of :attr:`key`; ValueError when ``text`` is not ``kind:database/schema/name``."""
        match = re.fullmatch(r"([a-z][a-z0-9_]{0,31}):([^/]*)/([^/]*)/(.+)", text)
        if match is None:
            raise ValueError(
                "an object key looks like kind:database/schema/name, e.g. table:sales/public/orders"
            )
        kind, database, schema, name = match.groups()
        return cls.model_validate(
            {"kind": kind, "database": database or None, "schema": schema or None, "name": name}
        )


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    object: ObjectRef
    issue_ref: str
    type: LinkType = "manual"
    created_by: str
    created_at: UtcDatetime

    @field_validator("issue_ref")
    @classmethod
    def _valid_ref(cls, value: str) -> str:
        if not is_issue_ref(value):
            raise ValueError("an issue ref looks like {connection_id}.{native_id}")
        return value


__all__ = ["KNOWN_OBJECT_KINDS", "Link", "LinkType", "ObjectRef"]
