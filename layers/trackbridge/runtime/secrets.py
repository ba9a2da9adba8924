"""Connection secrets in Secrets Manager: credentials and webhook signing secrets, never anywhere else.

Names: ``{prefix}{tenant}/connections/{id}`` holds the credentials as JSON; ``.../webhook`` holds a JSON list
of signing secrets, newest first, so a rotated secret keeps working until senders use the new one;
``.../oauth`` holds a Jira OAuth connection's tokens (``trackbridge.runtime.oauth_tokens`` reads and
rotates it; its credentials secret then holds only ``{"auth": "oauth"}``, and :meth:`credentials` adds
``token_secret``, the tokens' secret name, so an adapter factory can find them without the tenant).

Reads go through Powertools parameters (``SecretsProvider`` over the injected client) with a TTL cache, so a
warm function does not call Secrets Manager per request. Writes clear that cache, so this process never
reads its own stale value; other processes see a rotation within ``ttl_s``.

Deletion: on the embedded stack secrets are deleted at once. On AWS they are scheduled for deletion with a
7-day recovery window, the shortest AWS allows: an operator who deleted a connection by mistake can still
restore its credentials (``restore-secret``), and dead credentials do not linger for the default 30 days.

Errors never carry AWS's message onward (``from None``): a parameter error could echo part of a value.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import SecretStr

from trackbridge.domain.connections import Credentials, secret_payload
from trackbridge.domain.errors import DependencyFailure

RECOVERY_WINDOW_DAYS = 7
# How many webhook secrets stay valid: the newest and the one before it (rotation without downtime).
WEBHOOK_SECRETS_KEPT = 2


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _failure(action: str, exc: Exception) -> DependencyFailure:
    code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    return DependencyFailure(f"Secrets Manager could not {action}; retry", details={"aws_code": code})


class ConnectionSecrets:
    def __init__(self, client: Any, *, prefix: str, ttl_s: int, force_delete: bool) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.force_delete = force_delete
        self._provider = SecretsProvider(boto3_client=client)

    def credentials_name(self, tenant: str, connection_id: str) -> str:
        return f"{self.prefix}{tenant}/connections/{connection_id}"

    def webhook_name(self, tenant: str, connection_id: str) -> str:
        return f"{self.credentials_name(tenant, connection_id)}/webhook"

    def oauth_tokens_name(self, tenant: str, connection_id: str) -> str:
        return f"{self.credentials_name(tenant, connection_id)}/oauth"

    # -- writes ---------------------------------------------------------------------------------------------

    def _put(self, name: str, value: str, *, description: str, new: bool) -> None:
        """Create or overwrite ``name``; ``new`` says which to try first (one call in the usual case)."""

        def create() -> None:
            self.client.create_secret(Name=name, SecretString=value, Description=description)

        def overwrite() -> None:
            self.client.put_secret_value(SecretId=name, SecretString=value)

        first, fallback, fallback_when = (
            (create, overwrite, "ResourceExistsException")
            if new
            else (overwrite, create, "ResourceNotFoundException")
        )
        try:
            try:
                first()
            except ClientError as exc:
                if _code(exc) != fallback_when:
                    raise
                fallback()
        except (ClientError, BotoCoreError) as exc:
            raise _failure("store a secret", exc) from None
        finally:
            self._provider.clear_cache()

    def put_credentials(
        self, tenant: str, connection_id: str, credentials: Credentials, *, new: bool
    ) -> None:
        self._put(
            self.credentials_name(tenant, connection_id),
            json.dumps(secret_payload(credentials)),
            description="trackbridge connection credentials",
            new=new,
        )

    def put_webhook_secret(self, tenant: str, connection_id: str, secret: SecretStr, *, new: bool) -> None:
        """Make ``secret`` the signing secret; the previous one stays valid (rotation)."""
        current = [] if new else self.webhook_secrets(tenant, connection_id, fresh=True)
        value = [secret.get_secret_value(), *[s for s in current if s != secret.get_secret_value()]]
        self._put(
            self.webhook_name(tenant, connection_id),
            json.dumps(value[:WEBHOOK_SECRETS_KEPT]),
            description="trackbridge webhook signing secrets, newest first",
            new=new,
        )

    def delete(self, tenant: str, connection_id: str) -> None:
        """Delete every secret of a connection; absent ones are fine (idempotent)."""
        options: dict[str, Any] = (
            {"ForceDeleteWithoutRecovery": True}
            if self.force_delete
            else {"RecoveryWindowInDays": RECOVERY_WINDOW_DAYS}
        )
        names = (
            self.credentials_name(tenant, connection_id),
            self.webhook_name(tenant, connection_id),
            self.oauth_tokens_name(tenant, connection_id),
        )
        for name in names:
            try:
                self.client.delete_secret(SecretId=name, **options)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise _failure("delete a secret", exc) from None
            except BotoCoreError as exc:
                raise _failure("delete a secret", exc) from None
        self._provider.clear_cache()

    # -- reads ----------------------------------------------------------------------------------------------

    def _get_json(self, name: str, *, fresh: bool) -> Any:
        try:
            # moto (and AWS right after a stage move) needs the stage named to return the current value.
            return self._provider.get(
                name, max_age=self.ttl_s, transform="json", force_fetch=fresh, VersionStage="AWSCURRENT"
            )
        except TransformParameterError:
            raise _failure("read a secret (it is not JSON)", ValueError()) from None
        except GetParameterError as exc:
            # Powertools wraps the SDK error; the original is the implicit context of its exception.
            cause = exc.__context__
            if isinstance(cause, ClientError) and _code(cause) == "ResourceNotFoundException":
                return None
            raise _failure("read a secret", cause if isinstance(cause, Exception) else exc) from None

    def credentials(self, tenant: str, connection_id: str) -> dict[str, str] | None:
        value = self._get_json(self.credentials_name(tenant, connection_id), fresh=False)
        if not isinstance(value, dict):
            return None
        credentials = dict(value)
        if credentials.get("auth") == "oauth":
            credentials["token_secret"] = self.oauth_tokens_name(tenant, connection_id)
        return credentials

    def webhook_secrets(self, tenant: str, connection_id: str, *, fresh: bool = False) -> list[str]:
        value = self._get_json(self.webhook_name(tenant, connection_id), fresh=fresh)
        return [str(s) for s in value] if isinstance(value, list) else []


__all__ = ["RECOVERY_WINDOW_DAYS", "WEBHOOK_SECRETS_KEPT", "ConnectionSecrets"]
