"""``/v1/dlq/{queue}``: the calling tenant's messages in a dead-letter queue: list, redrive, discard.

``queue`` is ``sync``, ``inbound`` or ``auto_issue``; any other name is a 404. These are operator routes
(scope ``admin``), and they see only the calling tenant's messages: a DLQ is shared by every tenant, so
the tenant each message names is the filter (``runtime.dlq``). The deployment's operator sees every
tenant's through ``trackbridge dlq``, with AWS credentials rather than an API key.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.api_keys import ADMIN_SCOPE
from trackbridge.domain.errors import NotFound
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.dlq import MAX_MESSAGES, DeadLetterList, DeadLetterMove, DeadLetterQueues

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Queues = Annotated[DeadLetterQueues, Depends(container.dead_letter_queues)]
QueueName = Annotated[str, Path(max_length=32, description="sync, inbound or auto_issue")]
MessageId = Annotated[str, Path(max_length=128, description="the SQS message id, as listed")]


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        None, max_length=MAX_MESSAGES, description="the messages to move back; absent: all of the tenant's"
    )


@router.get(
    "/v1/dlq/<queue>",
    summary="List a dead-letter queue's messages",
    description="The calling tenant's messages in the dead-letter queue of `sync`, `inbound` or "
    "`auto_issue`, each with its last recorded failure (`failure`: code, message, time), receive count and "
    "body. SQS has no peek: the listing receives the messages with a short visibility timeout and makes them "
    "visible again at once, deleting nothing; a listing or redrive running at the same time may not see "
    "messages this one holds, which `complete: false` signals. Scope `admin`.",
    operation_id="listDeadLetters",
    tags=["dlq"],
    openapi_extensions=requires(ADMIN_SCOPE),
)
def list_dead_letters(
    queue: QueueName,
    caller: Caller,
    queues: Queues,
    limit: Annotated[int, Query(ge=1, le=MAX_MESSAGES, description="messages at most")] = MAX_MESSAGES,
) -> DeadLetterList:
    caller.require(ADMIN_SCOPE)
    return queues.list(queue, tenant=caller.tenant, limit=limit)


@router.post(
    "/v1/dlq/<queue>/redrive",
    summary="Move dead letters back to their queue",
    description="Sends the calling tenant's messages (all of them, or those of `ids`) back to the work queue "
    "and deletes them from the dead-letter queue, each with a `dlq.redrive` audit entry. FIFO messages keep "
    "their group and deduplication ids. `missing` lists asked-for ids that were not found.",
    operation_id="redriveDeadLetters",
    tags=["dlq"],
    openapi_extensions=requires(ADMIN_SCOPE),
)
def redrive_dead_letters(
    queue: QueueName, caller: Caller, queues: Queues, body: Annotated[RedriveRequest | None, Body()] = None
) -> DeadLetterMove:
    caller.require(ADMIN_SCOPE)
    ids = body.ids if body is not None else None
    return queues.redrive(queue, tenant=caller.tenant, ids=ids, actor=caller.actor)


@router.delete(
    "/v1/dlq/<queue>/messages/<message_id>",
    summary="Discard a dead letter",
    description="Deletes one of the calling tenant's messages from the dead-letter queue, with a "
    "`dlq.discard` audit entry. 404 when the queue has no such message of the tenant's.",
    operation_id="discardDeadLetter",
    tags=["dlq"],
    openapi_extensions=requires(ADMIN_SCOPE),
    responses={204: {"description": "discarded"}, 404: {"description": "no such message"}},
)
def discard_dead_letter(
    queue: QueueName, message_id: MessageId, caller: Caller, queues: Queues
) -> Response[None]:
    caller.require(ADMIN_SCOPE)
    moved = queues.discard(queue, ids=[message_id], tenant=caller.tenant, actor=caller.actor)
    if not moved.moved:
        raise NotFound(
            f"no message {message_id!r} in the {queue} dead-letter queue", details={"id": message_id}
        )
    return Response(status_code=204, body=None)


__all__ = ["RedriveRequest", "router"]
