"""Links between internal objects (a table, an alarm, a test case) and tracker issues, many to many.

An object is addressed by its key ``kind:database/schema/name`` (``GET /v1/links?object=...``), e.g.
``table:sales/public/orders``; parts that do not apply stay empty (``alarm://HighCPU``). The format:

* ``kind`` is one of :data:`KNOWN_OBJECT_KINDS`, or ``custom:<name>`` for anything else (``<name>``:
  lowercase letters, digits and ``_``, starting with a letter, at most 32), e.g. ``custom:etl_job``;
* ``database`` and ``schema`` are optional, ``name`` is required; each is 1 to 255 characters with no ``/``
  (it separates the parts), no ``#`` (it separates DynamoDB key parts), no control characters and no
  leading or trailing whitespace, and is not ``-`` alone (URL paths write an empty part as ``-``:
  ``GET /v1/objects/alarm/-/-/HighCPU``). ``:`` is allowed inside a part: only the first ``:`` after the
  kind separates;
* the whole key is at most :data:`MAX_KEY_BYTES` bytes of UTF-8 (it is a DynamoDB sort key on the issue's
  side, which DynamoDB caps at 1024 bytes).

There is no escaping inside a key: what a part may not hold, it cannot hold. In URLs the key and the parts
are percent-encoded as any query or path value is (``?object=table%3Asales%2Fpublic%2Forders`` and
``?object=table:sales/public/orders`` are the same request).

Link types: ``manual`` (a person or script through the API), ``auto_created`` (trackbridge opened the issue
for the object, auto-issue), ``auto_detected`` (trackbridge found the issue's key in development activity).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from trackbridge.domain.ids import is_issue_ref
from trackbridge.domain.times import UtcDatetime

KNOWN_OBJECT_KINDS: Final[tuple[str, ...]] = (
    "table",
    "schema",
    "view",
    "procedure",
    "function",
    "index",
    "alarm",
    "test_case",
    "design",
    "service",
    "repository",
)
CUSTOM_KIND_PREFIX: Final = "custom:"
MAX_PART_LENGTH: Final = 255
MAX_KEY_BYTES: Final = 1000
EMPTY_PART: Final = "-"  # how a URL path writes a part that does not apply

_CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_KIND = r"(?:custom:[a-z][a-z0-9_]{0,31}|[a-z][a-z0-9_]{0,31})"
_KEY = re.compile(rf"({_KIND}):([^/]*)/([^/]*)/(.+)")
_FORBIDDEN = re.compile(r"[/#\x00-\x1f\x7f]")
KEY_FORMAT_HINT: Final = (
    "an object key looks like kind:database/schema/name, e.g. table:sales/public/orders (empty parts "
    "allowed but the name: alarm://HighCPU)"
)

LinkType = Literal["manual", "auto_created", "auto_detected"]
LINK_TYPES: Final[tuple[str, ...]] = ("manual", "auto_created", "auto_detected")


def check_kind(value: str) -> str:
    """``value`` when it is a known kind or ``custom:<name>``, else ValueError saying what is allowed."""
    if value in KNOWN_OBJECT_KINDS:
        return value
    if value.startswith(CUSTOM_KIND_PREFIX) and _CUSTOM_NAME.fullmatch(value[len(CUSTOM_KIND_PREFIX) :]):
        return value
    raise ValueError(
        f"unknown object kind: use one of {', '.join(KNOWN_OBJECT_KINDS)}, or custom:<name> "
        "(lowercase letters, digits and _, starting with a letter, at most 32)"
    )


def check_part(value: str) -> str:
    """``value`` when it can be one part of an object key, else ValueError naming the problem."""
    if not value:
        raise ValueError("may not be empty")
    if len(value) > MAX_PART_LENGTH:
        raise ValueError(f"at most {MAX_PART_LENGTH} characters")
    if _FORBIDDEN.search(value):
        raise ValueError("may not hold '/', '#' or control characters")
    if value != value.strip():
        raise ValueError("may not start or end with whitespace")
    if value == EMPTY_PART:
        raise ValueError(f"'{EMPTY_PART}' alone stands for an empty part in URLs, so it cannot be a name")
    return value


ObjectKind = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description=f"one of {', '.join(KNOWN_OBJECT_KINDS)}, or custom:<name>",
        examples=["table", "custom:etl_job"],
    ),
    AfterValidator(check_kind),
]
Part = Annotated[str, Field(min_length=1, max_length=MAX_PART_LENGTH), AfterValidator(check_part)]


class ObjectRef(BaseModel):
    """An internal object: its kind, where it lives (``database``, ``schema``, when they apply) and name."""

    kind: ObjectKind
    database: Part | None = None
    schema_: Part | None = Field(None, alias="schema")
    name: Part

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        # ``"database": ""`` says the same as leaving it out (the key writes both as an empty part).
        if isinstance(data, dict):
            return {
                k: None if k in ("database", "schema", "schema_") and v == "" else v for k, v in data.items()
            }
        return data

    @model_validator(mode="after")
    def _bounded(self) -> ObjectRef:
        if len(self.key.encode("utf-8")) > MAX_KEY_BYTES:
            raise ValueError(f"the object key kind:database/schema/name is over {MAX_KEY_BYTES} bytes")
        return self

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.database or ''}/{self.schema_ or ''}/{self.name}"

    @property
    def path(self) -> str:
        """The object's URL path under ``/v1/objects/`` (empty parts as ``-``), not percent-encoded."""
        parts = (self.kind, self.database or EMPTY_PART, self.schema_ or EMPTY_PART, self.name)
        return "/".join(parts)

    @classmethod
    def parse_key(cls, text: str) -> ObjectRef:
        """The inverse of :attr:`key`; ValueError (pydantic's ValidationError for a bad part) when ``text``
        is not ``kind:database/schema/name``."""
        match = _KEY.fullmatch(text)
        if match is None:
            raise ValueError(KEY_FORMAT_HINT)
        kind, database, schema, name = match.groups()
        return cls.model_validate(
            {"kind": kind, "database": database or None, "schema": schema or None, "name": name}
        )

    @classmethod
    def from_path(cls, kind: str, database: str, schema: str, name: str) -> ObjectRef:
        """The object of ``/v1/objects/{kind}/{database}/{schema}/{name}``, where ``-`` is an empty part."""
        return cls.model_validate(
            {
                "kind": kind,
                "database": None if database == EMPTY_PART else database,
                "schema": None if schema == EMPTY_PART else schema,
                "name": name,
            }
        )


class Link(BaseModel):
    """An object linked to an issue (DESIGN section 9)."""

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


__all__ = [
    "CUSTOM_KIND_PREFIX",
    "EMPTY_PART",
    "KEY_FORMAT_HINT",
    "KNOWN_OBJECT_KINDS",
    "LINK_TYPES",
    "MAX_KEY_BYTES",
    "MAX_PART_LENGTH",
    "Link",
    "LinkType",
    "ObjectKind",
    "ObjectRef",
    "check_kind",
    "check_part",
]
