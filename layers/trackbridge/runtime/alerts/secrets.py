"""Alert channel secrets in Secrets Manager: ``{prefix}{tenant}/alerts/{channel}`` holds ``{"url"}`` and,
for a signed webhook, ``{"secret"}``.

The same store as connection secrets (:class:`~trackbridge.runtime.secrets.ConnectionSecrets`: Powertools'
cached reads, writes that clear the cache, errors that never carry AWS's message), under another name, so
the deployment's Secrets Manager grants on the stage prefix cover both. A Slack incoming-webhook URL is
itself the credential that posts to the channel: it is never stored in DynamoDB, logged or returned.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trackbridge.runtime.secrets import RECOVERY_WINDOW_DAYS, ConnectionSecrets, _code, _failure


class AlertChannelSecrets(ConnectionSecrets):
    def channel_secret_name(self, tenant: str, channel: str) -> str:
        return f"{self.prefix}{tenant}/alerts/{channel}"

    def put_channel(self, tenant: str, channel: str, payload: dict[str, str], *, new: bool) -> None:
        self._put(
            self.channel_secret_name(tenant, channel),
            json.dumps(payload),
            description="trackbridge alert channel URL (and signing secret)",
            new=new,
        )

    def channel(self, tenant: str, channel: str) -> dict[str, str] | None:
        value = self._get_json(self.channel_secret_name(tenant, channel), fresh=False)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else None

    def delete_channel(self, tenant: str, channel: str) -> None:
        """Delete the channel's secret; an absent one is fine (idempotent)."""
        options: dict[str, Any] = (
            {"ForceDeleteWithoutRecovery": True}
            if self.force_delete
            else {"RecoveryWindowInDays": RECOVERY_WINDOW_DAYS}
        )
        try:
            self.client.delete_secret(SecretId=self.channel_secret_name(tenant, channel), **options)
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise _failure("delete a secret", exc) from None
        except BotoCoreError as exc:
            raise _failure("delete a secret", exc) from None
        finally:
            self._provider.clear_cache()


__all__ = ["AlertChannelSecrets"]
