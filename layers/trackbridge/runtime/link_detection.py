"""Links detected from development activity: commits and pull/merge requests that name issues.

Two entry points feed :class:`LinkDetector`: the apply Lambda hands it the commits of a ``push`` and the
request of a ``pull_request`` / ``Merge Request Hook`` delivery (:meth:`LinkDetector.detect`), and
``POST /v1/connections/{id}/scan-links`` reads the repository's recent commits and requests through the
adapter (:meth:`LinkDetector.scan`, capability ``dev_activity``: a Jira connection answers 422).

**Objects.** The commit or request is the linked object, a ``repository`` object whose database is the
repository path with ``:`` for ``/`` (object key parts cannot hold ``/``), whose schema says what it is and
whose name is its id:

* ``repository:acme:widgets/commit/3f2a...`` (the full sha),
* ``repository:acme:widgets/pull_request/7`` (GitHub), ``repository:group:sub:app/merge_request/7`` (GitLab),

so ``GET /v1/links?object=repository:acme:widgets/commit/<sha>`` and ``GET /v1/objects/repository/
acme:widgets/commit/<sha>`` show what a commit names, and ``GET /v1/links?issue=<ref>`` every commit and
request naming an issue.

**Resolution** (``domain.dev_refs`` finds the keys; Jira keys only for the tenant's Jira connections'
project keys): ``#12`` is issue 12 of the scanned connection; ``owner/repo#12`` issue 12 of the tenant's
connection of the same provider on that repository or project path; ``ACME-12`` the issue with that key of
the Jira connection whose scope is project ``ACME``. Only synced issues resolve (no tracker request per
key): a key that names none is recorded as *unresolved* (``storage.links.UnresolvedRef``, listed by
``GET /v1/connections/{id}/unresolved-refs``), not linked, and its record goes once a later run links it.

**Idempotent.** Links are made with :meth:`LinkService.ensure`: the same commit seen by a webhook and by a
scan (or by two scans) makes one link; an object-issue pair linked already, by any type, is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field

from trackbridge.domain.audit import Actor
from trackbridge.domain.connections import Connection
from trackbridge.domain.dev_refs import DevActivity, DevRef
from trackbridge.domain.errors import NotFound, UnsupportedCapability, ValidationFailed
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.links import ObjectRef
from trackbridge.domain.pagination import Page
from trackbridge.domain.times import utcnow
from trackbridge.runtime.observability import logger
from trackbridge.storage.links import UnresolvedRef

if TYPE_CHECKING:
    from trackbridge.providers.base import TrackerAdapter
    from trackbridge.runtime.links import LinkService

CAPABILITY = "dev_activity"
CREATED_BY = "link_detection"
# A scan reads at most this many commits and as many requests, and starts no page after SCAN_BUDGET_S
# (API Gateway gives an integration 29 s); ``truncated`` then says so, and a later ``since`` continues.
MAX_SCAN_ITEMS = 1000
SCAN_BUDGET_S = 20.0
DEFAULT_SCAN_WINDOW = timedelta(days=30)
# Connections read to resolve qualified and Jira keys (100 a page).
MAX_CONNECTION_PAGES = 20


# ---- ports ------------------------------------------------------------------------------------------------


class ConnectionDirectory(Protocol):
    """``storage.connections.ConnectionRepository``."""

    def get(self, tenant: str, document_id: str) -> Connection: ...

    def list(self, tenant: str, *, limit: int = ..., cursor: str | None = ...) -> Page[Connection]: ...


class DetectionStore(Protocol):
    """``storage.links.LinkRepository``: unresolved references and Jira keys."""

    def record_unresolved(self, tenant: str, entry: UnresolvedRef) -> bool: ...

    def forget_unresolved(self, tenant: str, connection_id: str, ref: str, obj: ObjectRef) -> None: ...

    def list_unresolved(
        self, tenant: str, connection_id: str, *, limit: int = ..., cursor: str | None = ...
    ) -> Page[UnresolvedRef]: ...

    def issue_refs_by_key(self, tenant: str, connection_id: str, keys: Iterable[str]) -> dict[str, str]: ...


class AdapterLeases(Protocol):
    def lease(self, tenant: str, connection: Connection) -> AbstractContextManager[TrackerAdapter]: ...


class ActivitySource(Protocol):
    """What a forge adapter offers for scans (``providers.forge.ForgeAdapter``)."""

    def iter_activity_pages(
        self, what: Literal["commits", "requests"], *, since: datetime
    ) -> Iterator[list[DevActivity]]: ...


# ---- results ----------------------------------------------------------------------------------------------


class DetectionResult(BaseModel):
    """What a scan (or a delivery) came to."""

    commits: int = Field(0, description="commits read")
    pull_requests: int = Field(0, description="pull requests (GitHub) or merge requests (GitLab) read")
    links_created: int = Field(0, description="auto_detected links made now (existing ones are not counted)")
    links_existing: int = Field(0, description="references whose link existed already")
    unresolved: int = Field(0, description="references that name no synced issue (recorded, not linked)")
    closing: int = Field(0, description="references named by a closing keyword (Fixes #12)")
    requests: int = Field(0, description="requests made to the tracker")
    truncated: bool = Field(
        False, description="the scan stopped at its item or time budget: scan again from a later since"
    )


@dataclass
class _Tally:
    commits: int = 0
    pull_requests: int = 0
    links_created: int = 0
    links_existing: int = 0
    unresolved: int = 0
    closing: int = 0

    def count(self, item: DevActivity) -> None:
        if item.kind == "commit":
            self.commits += 1
        else:
            self.pull_requests += 1


def repository_path(connection: Connection) -> str | None:
    """The repository or project path a forge connection is scoped to (``acme/widgets``)."""
    return connection.scope.repo or (connection.scope.project if connection.provider != "jira" else None)


def activity_object(repository: str, item: DevActivity) -> ObjectRef:
    """The object a commit or request is linked as (module docstring)."""
    return ObjectRef.model_validate(
        {"kind": "repository", "database": repository.replace("/", ":"), "schema": item.kind, "name": item.id}
    )


@dataclass
class _Resolver:
    """Issue refs for the references found in one connection's activity: the tenant's connections read
    once, Jira keys looked up per Jira connection in one pass."""

    source: Connection
    forges: dict[tuple[str, str], Connection]
    jira: dict[str, Connection]
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def jira_projects(self) -> frozenset[str]:
        return frozenset(self.jira)

    def load_jira_keys(self, tenant: str, store: DetectionStore, refs: Iterable[DevRef]) -> None:
        wanted: dict[str, set[str]] = {}
        for ref in refs:
            if ref.kind == "jira" and ref.project in self.jira and ref.key not in self.keys:
                wanted.setdefault(ref.project, set()).add(ref.key)
        for project, keys in wanted.items():
            self.keys.update(store.issue_refs_by_key(tenant, self.jira[project].id, keys))

    def issue_ref(self, ref: DevRef) -> str | None:
        if ref.kind == "jira":
            return self.keys.get(ref.key)
        if ref.kind == "number":
            return self.source.issue_ref(ref.number)
        target = self.forges.get((self.source.provider, str(ref.project).lower()))
        return target.issue_ref(ref.number) if target is not None else None


class LinkDetector:
    def __init__(
        self,
        connections: ConnectionDirectory,
        links: LinkService,
        store: DetectionStore,
        *,
        adapters: Callable[[], AdapterLeases],
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        scan_budget_s: float = SCAN_BUDGET_S,
        max_items: int = MAX_SCAN_ITEMS,
    ) -> None:
        self.connections = connections
        self.links = links
        self.store = store
        self.adapters = adapters  # called only when a scan asks the tracker: the pool pulls in httpx
        self.clock = clock
        self.monotonic = monotonic
        self.scan_budget_s = scan_budget_s
        self.max_items = max_items

    # -- entry points -------------------------------------------------------------------------------------

    def scan(
        self, tenant: str, connection_id: str, since: datetime | None, *, actor: Actor
    ) -> DetectionResult:
        """Read the repository's commits and pull/merge requests since ``since`` (default: 30 days) and
        link what they name. 404 for another tenant's connection, 422 for a tracker without repositories
        or a ``since`` in the future."""
        connection = self._connection(tenant, connection_id)
        now = self.clock()
        start = since if since is not None else now - DEFAULT_SCAN_WINDOW
        if start > now:
            raise ValidationFailed(
                "invalid request: body.since: is in the future",
                details={
                    "errors": [{"path": "body.since", "message": "is in the future", "type": "value_error"}]
                },
            )
        repository = repository_path(connection)
        if repository is None:
            raise UnsupportedCapability(
                f"{connection.provider} connections have no repository to scan for issue keys",
                details={"provider": connection.provider, "capability": CAPABILITY},
                guidance="Scan the GitHub or GitLab connection whose commits name the Jira keys: Jira keys "
                "resolve against the tenant's Jira connections.",
            )
        resolver = self._resolver(tenant, connection)
        tally, truncated = _Tally(), False
        deadline = self.monotonic() + self.scan_budget_s
        with self.adapters().lease(tenant, connection) as adapter:
            adapter.require(CAPABILITY)
            source: ActivitySource = adapter  # type: ignore[assignment]  # a forge, by its capability
            before = adapter.stats.requests
            listings: tuple[Literal["commits", "requests"], ...] = ("commits", "requests")
            for what in listings:
                read = 0
                for page in source.iter_activity_pages(what, since=start):
                    self._detect(tenant, resolver, repository, page, tally, actor=actor)
                    read += len(page)
                    if read >= self.max_items or self.monotonic() >= deadline:
                        truncated = True
                        break
            requests = adapter.stats.requests - before
        result = DetectionResult(**vars(tally), requests=requests, truncated=truncated)
        logger.info(
            "link_detection.scanned",
            extra={"tenant": tenant, "connection_id": connection.id, **result.model_dump()},
        )
        return result

    def detect(
        self, tenant: str, connection: Connection, activity: Sequence[DevActivity], *, actor: Actor
    ) -> DetectionResult:
        """Link what ``activity`` (a webhook's commits or request) names; no tracker request."""
        repository = repository_path(connection)
        if repository is None or not activity:
            return DetectionResult()
        tally = _Tally()
        self._detect(tenant, self._resolver(tenant, connection), repository, activity, tally, actor=actor)
        result = DetectionResult(**vars(tally))
        logger.info(
            "link_detection.delivered",
            extra={"tenant": tenant, "connection_id": connection.id, **result.model_dump()},
        )
        return result

    def unresolved(
        self, tenant: str, connection_id: str, *, limit: int, cursor: str | None
    ) -> Page[UnresolvedRef]:
        connection = self._connection(tenant, connection_id)
        return self.store.list_unresolved(tenant, connection.id, limit=limit, cursor=cursor)

    # -- the work -----------------------------------------------------------------------------------------

    def _connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        return self.connections.get(tenant, connection_id)

    def _resolver(self, tenant: str, source: Connection) -> _Resolver:
        forges: dict[tuple[str, str], Connection] = {}
        jira: dict[str, Connection] = {}
        cursor: str | None = None
        for _ in range(MAX_CONNECTION_PAGES):
            page = self.connections.list(tenant, limit=100, cursor=cursor)
            for connection in page.items:
                path = repository_path(connection)
                if path is not None:
                    forges.setdefault((connection.provider, path.lower()), connection)
                elif connection.scope.project:
                    jira.setdefault(connection.scope.project, connection)
            cursor = page.next_cursor
            if cursor is None:
                break
        return _Resolver(source, forges, jira)

    def _detect(
        self,
        tenant: str,
        resolver: _Resolver,
        repository: str,
        activity: Sequence[DevActivity],
        tally: _Tally,
        *,
        actor: Actor,
    ) -> None:
        found = [(item, item.refs(jira_projects=resolver.jira_projects)) for item in activity]
        resolver.load_jira_keys(tenant, self.store, (ref for _, refs in found for ref in refs))
        for item, refs in found:
            tally.count(item)
            obj = activity_object(repository, item)
            for ref in refs:
                tally.closing += ref.closes
                self._link(tenant, resolver, obj, item, ref, tally, actor=actor)

    def _link(
        self,
        tenant: str,
        resolver: _Resolver,
        obj: ObjectRef,
        item: DevActivity,
        ref: DevRef,
        tally: _Tally,
        *,
        actor: Actor,
    ) -> None:
        issue_ref = resolver.issue_ref(ref)
        if issue_ref is not None:
            try:
                _, created = self.links.ensure(
                    tenant, obj, issue_ref, actor=actor, type="auto_detected", created_by=CREATED_BY
                )
            except (ValidationFailed, NotFound):
                pass  # not synced, deleted at the tracker, or its connection is gone: unresolved
            else:
                if created:
                    tally.links_created += 1
                    self.store.forget_unresolved(tenant, resolver.source.id, ref.key, obj)
                else:
                    tally.links_existing += 1
                return
        tally.unresolved += 1
        entry = UnresolvedRef(
            connection_id=resolver.source.id,
            ref=ref.key,
            object=obj,
            closes=ref.closes,
            url=item.url,
            seen_at=self.clock(),
        )
        self.store.record_unresolved(tenant, entry)


__all__ = [
    "CAPABILITY",
    "CREATED_BY",
    "DEFAULT_SCAN_WINDOW",
    "MAX_SCAN_ITEMS",
    "SCAN_BUDGET_S",
    "ActivitySource",
    "ConnectionDirectory",
    "DetectionResult",
    "DetectionStore",
    "LinkDetector",
    "activity_object",
    "repository_path",
]
