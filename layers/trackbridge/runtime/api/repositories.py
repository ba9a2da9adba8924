"""``GET /v1/repositories/{connection_id}/activity``: a summary of a GitHub or GitLab repository's activity.

Computed from what the ``activity`` entity synced (``storage.activity``), never from the tracker: counts
per ISO week (commits, requests opened, merged, closed), the requests open at ``as_of`` and their ages,
the release cadence and the languages, with the time the entity was last synced. Scope ``issues:read``
(synced data). Another tenant's connection, or no such connection, is a 404; a tracker without a repository
(Jira) is a 422 naming the capability; ``weeks`` outside 1..52 is a 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.activity import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    MIN_WEEKS,
    ActivitySummary,
    summarize,
    window_start,
)
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import NotFound, UnsupportedCapability
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.times import utcnow
from trackbridge.domain.trackers import TRACKERS
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.api.params import Timestamp
from trackbridge.storage.activity import ActivityRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.sync import SyncStateRepository

READ = "issues:read"
ENTITY = "activity"
CAPABILITY = "repository_activity"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Connections = Annotated[ConnectionRepository, Depends(container.connection_repository)]
States = Annotated[SyncStateRepository, Depends(container.sync_state_repository)]
Activity = Annotated[ActivityRepository, Depends(container.activity_repository)]
ConnectionId = Annotated[
    str, Path(description="a GitHub or GitLab connection id, e.g. conn_abcdefghijklmnopqrst")
]


class RepositoryActivity(ActivitySummary):
    connection_id: str
    provider: str
    repository: str
    last_synced_at: datetime | None
    high_water: datetime | None


def repository_of(connection: Connection) -> str:
    """The repository a connection's activity is about; a tracker without one is a 422 naming the
    capability (decided by the tracker's declared entities: no adapter is loaded into the API)."""
    spec = TRACKERS.get(connection.provider)
    if spec is None or ENTITY not in spec.entities:
        raise UnsupportedCapability(
            f"{connection.provider} connections have no repository activity",
            details={"provider": connection.provider, "capability": CAPABILITY},
            guidance="Ask a GitHub or GitLab connection: their repositories have commits, pull/merge "
            "requests and releases.",
        )
    key = spec.scope.keys[0]
    return str(connection.scope.model_dump().get(key) or "")


@router.get(
    "/v1/repositories/<connection_id>/activity",
    summary="A repository's activity per week, open request ages, release cadence, languages",
    description="From what the `activity` entity synced (no tracker request): per ISO week of the `weeks` "
    "weeks ending with `as_of`'s (default now), the commits, pull/merge requests opened, merged and closed "
    "unmerged; the requests open at `as_of` with their median and oldest age in days; releases in the window "
    "with the median days between them and the last release; languages (percent of code). "
    '`last_synced_at` is when the entity was last synced (sync it with `entities: ["activity"]`). A Jira '
    "connection is a 422 naming the capability `repository_activity`.",
    operation_id="getRepositoryActivity",
    tags=["repositories"],
    openapi_extensions=requires(READ),
)
def repository_activity(
    connection_id: ConnectionId,
    caller: Caller,
    connections: Connections,
    states: States,
    activity: Activity,
    weeks: Annotated[
        int, Query(ge=MIN_WEEKS, le=MAX_WEEKS, description="ISO weeks to count")
    ] = DEFAULT_WEEKS,
    as_of: Annotated[
        Timestamp | None,
        Query(description="the end of the window, ISO 8601 with a time zone (default now)"),
    ] = None,
) -> RepositoryActivity:
    caller.require(READ)
    return summary_of(caller.tenant, connection_id, weeks, as_of, connections, states, activity)


def summary_of(
    tenant: str,
    connection_id: str,
    weeks: int,
    as_of: datetime | None,
    connections: ConnectionRepository,
    states: SyncStateRepository,
    activity: ActivityRepository,
) -> RepositoryActivity:
    if not is_id(IdPrefix.CONNECTION, connection_id):
        raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
    connection = connections.get(tenant, connection_id)
    repository = repository_of(connection)
    moment = as_of or utcnow()
    summary = summarize(
        commits=activity.commits_since(tenant, connection_id, window_start(moment, weeks)),
        requests=activity.requests(tenant, connection_id),
        releases=activity.releases(tenant, connection_id),
        languages=activity.languages(tenant, connection_id),
        as_of=moment,
        weeks=weeks,
    )
    state = states.find(tenant, connection_id, ENTITY)
    return RepositoryActivity(
        **summary.model_dump(),
        connection_id=connection_id,
        provider=connection.provider,
        repository=repository,
        last_synced_at=state.last_success_at if state else None,
        high_water=state.high_water if state else None,
    )


__all__ = ["RepositoryActivity", "repository_activity", "router", "summary_of"]
