"""The shapes of tracker credentials, and the printable-text rule they share with connections.

Each tracker's declaration (:mod:`trackbridge.domain.trackers`) names its credential model; the connection
models (:mod:`trackbridge.domain.connections`) parse a body's ``credentials`` with it. Secrets are
``SecretStr`` from the moment they are parsed, so they print as ``**********`` in any log or repr.

Strings people read back (names, scope values, the Jira e-mail) refuse control characters (C0, DEL, C1 and
the Unicode line separators): a name with a CR LF would forge lines in logs and terminals.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

# C0 controls, DEL, C1 controls, and U+2028/U+2029 (line and paragraph separators).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The same, except tab, LF and CR: a multi-line query is still a query.
_CONTROL_EXCEPT_WHITESPACE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


def _refuse(pattern: re.Pattern[str], value: str) -> str:
    found = pattern.search(value)
    if found is not None:
        raise ValueError(
            f"must not contain control characters (U+{ord(found.group()):04X} at position {found.start()})"
        )
    return value


def printable(value: str) -> str:
    """``value`` if it holds no control character; ValueError naming the first one otherwise."""
    return _refuse(_CONTROL, value)


def printable_query(value: str) -> str:
    """Like :func:`printable`, but tab, LF and CR pass: a multi-line query is still a query."""
    return _refuse(_CONTROL_EXCEPT_WHITESPACE, value)


SecretText = Annotated[SecretStr, Field(min_length=1, max_length=4096)]


class TokenCredentials(BaseModel):
    """GitHub and GitLab: a personal, project or app token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretText


class JiraCredentials(BaseModel):
    """Jira Cloud basic auth: the account's e-mail and an API token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: Annotated[str, Field(pattern=_EMAIL), AfterValidator(printable)]
    api_token: SecretText


class OAuthCredentials(BaseModel):
    """Jira Cloud through OAuth 2.0 (3LO): no secret at creation; the tokens arrive with the callback and
    live in their own secret (``trackbridge.runtime.oauth_tokens``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth: Literal["oauth"]


# The credential models a tracker can declare as its stored (non-OAuth) credentials.
StoredCredentials = TokenCredentials | JiraCredentials

__all__ = [
    "JiraCredentials",
    "OAuthCredentials",
    "SecretText",
    "StoredCredentials",
    "TokenCredentials",
    "printable",
    "printable_query",
]
