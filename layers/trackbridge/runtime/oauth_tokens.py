"""A Jira OAuth connection's tokens in Secrets Manager, with a compare-and-swap two Lambdas cannot both win.

Why this shape: Atlassian rotates refresh tokens, so every refresh spends the stored refresh token and
returns a new one (tracker-apis 1.1). If two sync slices refresh at once and the slower one overwrites the
faster one's tokens with a pair it obtained *earlier*, nothing is lost; but if a slower writer overwrites a
*newer* pair with an older one, the stored refresh token is already spent and the connection is dead
until a person re-authorizes it. ``oauth_jira.fresh_tokens`` therefore needs
:meth:`SecretsManagerTokenStore.compare_and_swap`: store ``new`` only if ``old`` is still what is stored.

Secrets Manager has no conditional ``PutSecretValue``, but it has one atomic uniqueness rule: a secret's
version ids are unique, and a ``ClientRequestToken`` that already names a version with a *different*
value is refused (``ResourceExistsException``); the same value is an idempotent no-op. So every write is
named after the version it replaces:

    ClientRequestToken = uuid5(secret name, "after:<version replaced>")

Two writers that both read version N both write "after:N"; Secrets Manager accepts exactly one, and the
other gets ``ResourceExistsException`` and returns False (``fresh_tokens`` then re-reads and uses the
winner's tokens). A writer holding a stale N cannot move ``AWSCURRENT`` back either: "after:N" already
exists. Versions therefore form one chain (N is only ever replaced by N+1), and the ``version`` number in
the JSON is the chain position. After a write the store reads that version id back and compares the value
(which also recognises our own retried write as ours): on AWS this is redundant, on moto, which checks
and adds versions without a lock, it is what settles a race the server let through.

A DynamoDB lock item beside the secret was the alternative. It adds a second store that can disagree with
the first (a crash between the lock and the put) and a lease to expire; the version-id rule needs nothing.

Forgetting (``revoke``) writes a tombstone ``{"revoked": true, "version": N+1}`` through the same chain
rather than deleting: a deleted secret's name stays reserved for its recovery window on AWS, and the chain
must go on if the connection is authorized again. :meth:`load` reads a tombstone as "no tokens".

Reads bypass the parameter cache: a refresher must see the newest version. Token values never reach a
log line or an error message; AWS's error text is not passed on either.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trackbridge.domain.errors import DependencyFailure
from trackbridge.providers.oauth_jira import TokenSet
from trackbridge.runtime.observability import logger

# Fixed namespace for the version ids this store derives (any constant UUID works; this one is ours).
_VERSION_NAMESPACE = uuid.UUID("5b0e3a52-6f0e-4d53-9d0c-7c1f4f0a8e21")
DESCRIPTION = "trackbridge Jira OAuth tokens of one connection (rotated by trackbridge; do not edit)"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _failure(action: str, exc: Exception) -> DependencyFailure:
    code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return DependencyFailure(
        f"Secrets Manager could not {action} the OAuth tokens; retry", details={"aws_code": code}
    )


def _dumps(payload: dict[str, Any]) -> str:
    # Deterministic text: a retried write must carry the identical value to count as the same version.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the secret's AWSCURRENT holds: its chain position and the tokens, or none (absent, forgotten)."""

    version: int
    tokens: TokenSet | None


class SecretsManagerTokenStore:
    """``oauth_jira.TokenStore`` over one secret (``ConnectionSecrets.oauth_tokens_name``)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def __repr__(self) -> str:
        return f"SecretsManagerTokenStore(name={self.name!r})"

    # -- reads ----------------------------------------------------------------------------------------------

    def state(self) -> StoredState:
        try:
            response = self.client.get_secret_value(SecretId=self.name, VersionStage="AWSCURRENT")
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return StoredState(version=0, tokens=None)
            raise _failure("read", exc) from None
        except BotoCoreError as exc:
            raise _failure("read", exc) from None
        try:
            data = json.loads(response.get("SecretString") or "")
            version = int(data.get("version") or 0)
        except (ValueError, TypeError, AttributeError):
            raise _failure("parse", ValueError()) from None
        if data.get("revoked"):
            return StoredState(version=version, tokens=None)
        return StoredState(version=version, tokens=TokenSet.from_secret(data))

    def load(self) -> TokenSet | None:
        return self.state().tokens

    # -- writes ---------------------------------------------------------------------------------------------

    def compare_and_swap(self, old: TokenSet | None, new: TokenSet) -> bool:
        """Store ``new`` as the successor of ``old`` (``None``: of "no live tokens", i.e. absent or
        forgotten). The stored ``version`` is always the predecessor's plus one, whatever ``new`` says."""
        if old is None:
            current = self.state()
            if current.tokens is not None:
                return False
            predecessor = current.version
        else:
            predecessor = old.version
        return self._write(predecessor, replace(new, version=predecessor + 1).to_secret())

    def forget(self, old: TokenSet) -> bool:
        """Replace ``old`` with a tombstone; False when another writer replaced it first."""
        return self._write(old.version, {"revoked": True, "version": old.version + 1})

    def version_id(self, predecessor: int) -> str:
        return str(uuid.uuid5(_VERSION_NAMESPACE, f"{self.name}#after:{predecessor}"))

    def _write(self, predecessor: int, payload: dict[str, Any]) -> bool:
        token = self.version_id(predecessor)
        text = _dumps(payload)
        try:
            if predecessor == 0:
                self.client.create_secret(
                    Name=self.name, SecretString=text, ClientRequestToken=token, Description=DESCRIPTION
                )
            else:
                self.client.put_secret_value(SecretId=self.name, SecretString=text, ClientRequestToken=token)
        except ClientError as exc:
            code = _code(exc)
            if code == "ResourceNotFoundException":
                return False  # the connection (and its secrets) was deleted meanwhile
            if code != "ResourceExistsException":
                raise _failure("store", exc) from None
            # Someone already wrote the successor of ``predecessor``: a rival, or our own earlier attempt.
        except BotoCoreError as exc:
            raise _failure("store", exc) from None
        won = self._holds(token, text)
        logger.info(
            "oauth.tokens.stored" if won else "oauth.tokens.lost_race",
            extra={"secret_name": self.name, "version": predecessor + 1},
        )
        return won

    def _holds(self, token: str, text: str) -> bool:
        """Whether version ``token`` exists with exactly ``text``: the write is ours."""
        try:
            response = self.client.get_secret_value(SecretId=self.name, VersionId=token)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return False
            raise _failure("verify", exc) from None
        except BotoCoreError as exc:
            raise _failure("verify", exc) from None
        return bool(response.get("SecretString") == text)


__all__ = ["DESCRIPTION", "SecretsManagerTokenStore", "StoredState"]
