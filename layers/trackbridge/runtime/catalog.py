"""Reading a connection's synced catalogs: its users and its sprints (``GET /v1/users``, ``GET /v1/sprints``).

Both live under the connection's partition (``USER#`` / ``SPRINT#``), so a listing names its connection and
reads one query, in id order; a value filter (``active``, ``state``) is checked on the items read, with the
same bounded read budget as the issue filters (a page may be shorter than ``limit`` while ``next_cursor``
leads on). The connection is read first, so an unknown one and another tenant's are the same 404, as in
``GET /v1/issues``. Reads what trackbridge stored: the tracker is not called.
"""

from __future__ import annotations

from trackbridge.domain.errors import NotFound
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.issues import Sprint, User
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.issues import SprintRepository, UserRepository


class SyncedCatalog:
    def __init__(
        self, connections: ConnectionRepository, users: UserRepository, sprints: SprintRepository
    ) -> None:
        self.connections = connections
        self.user_store = users
        self.sprint_store = sprints

    def _check_connection(self, tenant: str, connection_id: str) -> None:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        self.connections.get(tenant, connection_id)

    def users(
        self,
        tenant: str,
        connection_id: str,
        *,
        active: bool | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[User]:
        """The connection's users in id order; ``active`` keeps those who are (or are no longer) in scope."""
        self._check_connection(tenant, connection_id)
        if active is None:
            return self.user_store.list(tenant, connection_id, limit=limit, cursor=cursor)
        return self.user_store.list_matching(
            tenant, connection_id, lambda u: u.active == active, limit=limit, cursor=cursor
        )

    def sprints(
        self,
        tenant: str,
        connection_id: str,
        *,
        state: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Sprint]:
        """The connection's sprints in id order, deleted ones too (``deleted_at`` set) unless ``state`` is
        asked, which lists live sprints of that state only."""
        self._check_connection(tenant, connection_id)
        if state is None:
            return self.sprint_store.list(tenant, connection_id, limit=limit, cursor=cursor)
        return self.sprint_store.list_matching(
            tenant,
            connection_id,
            lambda s: s.state == state and s.deleted_at is None,
            limit=limit,
            cursor=cursor,
        )


__all__ = ["SyncedCatalog"]
