"""Idempotent creates: with an ``Idempotency-Key`` header, a retried POST answers what the first one did.

A client whose create timed out cannot tell whether the tracker made the issue. With the header it may send
the same request again, safely. For one tenant and one operation (``issue.create``, ``issue.comment``,
``issue.attach``, ``issue.bulk``):

=================================================  =========================================================
the request                                        the answer
=================================================  =========================================================
a key not seen in the last 24 hours                it runs; a success is stored under the key for 24 hours
same key, same request (connection, path, body)    the stored answer (status and body) with
                                                   ``Idempotent-Replayed: true``; the tracker is not called
same key, another request                          422 ``IDEMPOTENCY_KEY_REUSED``; nothing runs
same key while the first request still runs        409 ``IDEMPOTENCY_IN_PROGRESS`` with ``Retry-After``
same key after the first request failed            it runs again: a failure (any 4xx or 5xx) is never stored
another tenant's key string                        a record of its own: keys are scoped per tenant
no header                                          it runs as always; nothing is stored
=================================================  =========================================================

"The same request" compares the connection, the path's issue key and the parsed body (so key order and
defaults spelled out or left out do not matter). A bulk answer is stored once at least one item succeeded:
its replay shows the failed items as they were, and they go in a new request with a new key. A bulk in
which no item succeeded created nothing and is not stored.

How: Powertools' idempotency utility (``idempotent_function``) over its ``DynamoDBPersistenceLayer``, on
the one table. :class:`TenantIdempotencyStore` changes only where a record lives: ``T#{tenant}#IDEM`` /
``{operation}#{sha256(key)}`` (the key itself is not stored), expiring through the table's TTL attribute.
The rest is Powertools': the conditional put that lets one request in, the in-progress expiry (a request
that dies holds its key only until its Lambda's time is up), the payload hash (sha256) that tells a
reused key, and deleting the record when the request fails.

Once the tracker has acted, a DynamoDB failure while storing the answer is logged
(``idempotency.save_failed``) and the answer still goes out, as in ``actions.py``: an error would invite
the client to create again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer
from pydantic import BaseModel

from trackbridge.domain.errors import Conflict, DependencyFailure, ValidationFailed
from trackbridge.runtime.observability import logger
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
MAX_KEY_LENGTH: Final = 255
KEY_PATTERN: Final = r"^[\x20-\x7E]{1,255}$"
KEY_RULE: Final = "an Idempotency-Key is 1 to 255 printable ASCII characters, e.g. a UUID"
EXPIRES_AFTER_S: Final = 24 * 3600
# What a client waiting for the first request is told to wait: a create takes about a second.
IN_PROGRESS_RETRY_AFTER_S: Final = 2
# How long a request may hold its key when no Lambda context says (API Gateway's integration limit).
DEFAULT_BUDGET_MS: Final = 29_000

_KEY_RE = re.compile(KEY_PATTERN)
# Joins partition and sort key into the one string Powertools passes around as "the idempotency key";
# neither a tenant id, an operation name nor a hex digest contains it.
_JOIN = "|"


def is_valid_key(value: str) -> bool:
    return _KEY_RE.fullmatch(value) is not None


def idempotency_pk(tenant: str) -> str:
    """Every idempotency record of a tenant. The keys are built here, not in ``storage/keys.py``: the layer
    that writes them is Powertools', which storage may not import."""
    return f"T#{tenant}#IDEM"


def idempotency_sk(operation: str, key: str) -> str:
    # Hashed: a client's key may hold '#' and up to 255 characters; the digest is neither.
    return f"{operation}#{hashlib.sha256(key.encode('ascii')).hexdigest()}"


# ---- errors ------------------------------------------------------------------------------------------------


class IdempotencyKeyReused(ValidationFailed):
    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyInProgress(Conflict):
    code = "IDEMPOTENCY_IN_PROGRESS"

    def __init__(self, message: str, *, retry_after_s: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s  # the API answers it as Retry-After


# ---- what is stored ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer to store and replay: status and a JSON-ready body.

    ``store=False`` marks a success that created nothing (a bulk whose every item failed): it is answered
    but not kept, so a retry runs again. ``replayed`` is set on an answer read back from the store.
    """

    status: int
    body: Any
    store: bool = True
    replayed: bool = False

    @classmethod
    def of(cls, status: int, body: BaseModel | Mapping[str, Any], *, store: bool = True) -> Answer:
        if isinstance(body, BaseModel):
            return cls(status, body.model_dump(mode="json", by_alias=True), store=store)
        return cls(status, dict(body), store=store)


class _AnswerSerializer(BaseIdempotencySerializer):
    """Keeps an answer's body compressed: a bulk answer of 100 issues would otherwise near DynamoDB's 400 KB
    item limit (issue bodies compress well)."""

    def to_dict(self, data: Any) -> dict[str, Any]:
        answer = cast(Answer, data)
        raw = json.dumps(answer.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return {"status": answer.status, "body_z": base64.b64encode(zlib.compress(raw)).decode("ascii")}

    def from_dict(self, data: dict[str, Any]) -> Answer:
        body = json.loads(zlib.decompress(base64.b64decode(data["body_z"])).decode("utf-8"))
        return Answer(int(data["status"]), body)


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return dataclasses.replace(cast(Answer, response), replayed=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# ---- the persistence layer ---------------------------------------------------------------------------------


class TenantIdempotencyStore(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB layer on the shared table, with a record per tenant, operation and key.

    Powertools keys a record by a hash of the payload under one static partition; here the record's table key
    is built from the payload's ``tenant``, ``operation`` and ``key`` (two tenants sending one key string get
    two records), and ``request`` is what the payload hash compares.
    """

    def __init__(self, client: Any, table_name: str) -> None:
        super().__init__(
            table_name=table_name,
            key_attr=PK,
            sort_key_attr=SK,
            expiry_attr=TTL_ATTRIBUTE,
            boto3_client=client,
        )

    @staticmethod
    def record_id(tenant: str, operation: str, key: str) -> str:
        return f"{idempotency_pk(tenant)}{_JOIN}{idempotency_sk(operation, key)}"

    def _get_hashed_idempotency_key(self, data: dict[str, Any]) -> str | None:
        return self.record_id(data["tenant"], data["operation"], data["key"])

    def _get_key(self, idempotency_key: str) -> dict[str, Any]:
        pk, _, sk = idempotency_key.partition(_JOIN)
        return {self.key_attr: {"S": pk}, cast(str, self.sort_key_attr): {"S": sk}}

    def _item_to_data_record(self, item: dict[str, Any]) -> DataRecord:
        record = super()._item_to_data_record(item)
        record.idempotency_key = f"{record.idempotency_key}{_JOIN}{record.sort_key}"
        return record


@dataclass(frozen=True, slots=True)
class _Budget:
    """Stands in for a Lambda context where there is none: the time a request may hold its key."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class _NotStored(Exception):
    """Tells Powertools to drop the record (it deletes the record of a call that raised)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("answered, not stored")
        self.answer = answer


# ---- the service -------------------------------------------------------------------------------------------


class IdempotentRequests:
    """Runs a request at most once per tenant, operation and ``Idempotency-Key`` (see the module docstring).

    ``store`` builds the persistence layer on the first request that carries a key, so a request without one
    never makes a DynamoDB client.
    """

    def __init__(
        self,
        store: Callable[[], BasePersistenceLayer],
        *,
        expires_after_s: int = EXPIRES_AFTER_S,
        budget_ms: int = DEFAULT_BUDGET_MS,
        retry_after_s: float = IN_PROGRESS_RETRY_AFTER_S,
    ) -> None:
        self.store = store
        self.expires_after_s = expires_after_s
        self.budget_ms = budget_ms
        self.retry_after_s = retry_after_s

    def _config(self, context: LambdaContext | None) -> IdempotencyConfig:
        # One per call: the Lambda context (how long this request may hold the key) is the call's own.
        return IdempotencyConfig(
            # Any Powertools layer keys a record by these three; TenantIdempotencyStore places it by them.
            event_key_jmespath="[tenant, operation, key]",
            payload_validation_jmespath="request",
            expires_after_seconds=self.expires_after_s,
            hash_function="sha256",
            lambda_context=context or cast("LambdaContext", _Budget(self.budget_ms)),
            response_hook=_replayed,
        )

    def run(
        self,
        tenant: str,
        operation: str,
        key: str | None,
        request: Mapping[str, Any],
        produce: Callable[[], Answer],
        *,
        context: LambdaContext | None = None,
    ) -> Answer:
        """``produce()``'s answer, or the one stored for ``key``. ``request`` is what tells a retry (same
        request) from a reused key (another request): the connection, path values and the parsed body."""
        if key is None:
            return produce()
        if not is_valid_key(key):
            raise ValidationFailed(
                KEY_RULE,
                details={
                    "errors": [{"path": "header.idempotency-key", "message": KEY_RULE, "type": "value_error"}]
                },
            )
        produced: list[Answer] = []
        failed: list[Exception] = []

        def execute(*, payload: Mapping[str, Any]) -> Answer:
            try:
                answer = produce()
            except Exception as exc:
                failed.append(exc)
                raise
            produced.append(answer)
            if not answer.store:
                raise _NotStored(answer)  # Powertools deletes the record of a call that raised
            return answer

        run_once = idempotent_function(
            execute,
            data_keyword_argument="payload",
            persistence_store=self.store(),
            config=self._config(context),
            output_serializer=_AnswerSerializer(),
        )
        payload = {"tenant": tenant, "operation": operation, "key": key, "request": _jsonable(request)}
        where = {"tenant": tenant, "operation": operation}
        try:
            answer = cast(Answer, run_once(payload=payload))
        except _NotStored as exc:
            return exc.answer
        except IdempotencyValidationError as exc:
            raise IdempotencyKeyReused(
                f"this {HEADER} was used for a different request",
                details={"operation": operation},
                guidance=f"Send a new {HEADER} for a new request: a key stands for one request for "
                f"{self.expires_after_s // 3600} hours.",
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise IdempotencyInProgress(
                f"a request with this {HEADER} is still running",
                retry_after_s=self.retry_after_s,
                details={"operation": operation},
                guidance="Retry after Retry-After seconds: you will get that request's answer.",
            ) from exc
        except IdempotencyPersistenceLayerError as exc:
            if produced:
                # The request ran: answer it (after a create, an error would invite a second one). The
                # record frees itself when this request's time is up.
                if produced[0].store:
                    # A retry after this request's time would run again: worth an alarm, not a failure.
                    logger.error("idempotency.save_failed", extra={**where, "error": str(exc)})
                else:
                    logger.warning("idempotency.release_failed", extra={**where, "error": str(exc)})
                return produced[0]
            if failed:
                logger.warning("idempotency.release_failed", extra={**where, "error": str(exc)})
                raise failed[0] from exc
            raise DependencyFailure(
                "the idempotency record could not be read or written; nothing was sent to the tracker",
                guidance="Retry with the same Idempotency-Key.",
            ) from exc
        except IdempotencyInconsistentStateError as exc:
            raise DependencyFailure(
                "the idempotency record changed while it was read; nothing was sent to the tracker",
                guidance="Retry with the same Idempotency-Key.",
            ) from exc
        if answer.replayed:
            logger.info("idempotency.replayed", extra={**where, "status": answer.status})
        return answer


__all__ = [
    "DEFAULT_BUDGET_MS",
    "EXPIRES_AFTER_S",
    "HEADER",
    "KEY_PATTERN",
    "KEY_RULE",
    "MAX_KEY_LENGTH",
    "REPLAYED_HEADER",
    "Answer",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "IdempotentRequests",
    "TenantIdempotencyStore",
    "idempotency_pk",
    "idempotency_sk",
    "is_valid_key",
]
