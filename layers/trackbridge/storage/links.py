"""Links, three items per link written in one transaction, so each side is one query away:

* by id:         ``T#{t}`` / ``LINKID#{id}``                 (``DELETE /v1/links/{id}``)
* object side:   ``T#{t}#OBJ#{object_key}`` / ``LINK#{ref}``  (links of an object)
* issue side:    ``T#{t}#ISSUE#{ref}`` / ``LINK#{object_key}`` (links of an issue, next to its comments)

The object-side put carries ``attribute_not_exists``, so the same object-issue pair can be linked once;
a delete checks all three items exist and fails as a whole if another delete won the race.

Beside them, for the object view: ``T#{t}#ISSUE#{ref}`` / ``REFRESHED`` records when trackbridge last pulled
the issue from the tracker for a link (``POST /v1/links/{id}/refresh``, ``?refresh=true``). Its sort key
starts with none of the prefixes the issue's partition is listed by (``COMMENT#``, ``WORKLOG#``, ``LINK#``).
:meth:`LinkRepository.linked_issues` reads the linked issues' synced copies and these records in one batch
read per 50 issues.

Unresolved references (link detection, ``runtime.link_detection``): an issue key found in a commit or a
pull/merge request of a connection's repository that names no synced issue is kept, not linked, as
``T#{t}#CONN#{id}#UNRESOLVED`` / ``REF#{key}#{object_key}``: its own partition (nothing that lists the
connection's issues can meet it), the tenant first as in every key, one item per reference and object (a
rescan finds the same item). It goes when the reference resolves and its link is made.

Jira keys (``ACME-12``) are resolved by :meth:`LinkRepository.issue_refs_by_key` through the issues' key
pointers (``KEY#{key}`` beside each issue): two batch reads per 100 keys, whatever the connection's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from trackbridge.domain.errors import Conflict, NotFound
from trackbridge.domain.issues import Issue
from trackbridge.domain.links import Link, ObjectRef
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, Page
from trackbridge.domain.times import UtcDatetime, from_iso, to_iso
from trackbridge.storage.issues import IssueRepository
from trackbridge.storage.keys import (
    LINK_PREFIX,
    PK,
    SK,
    connection_pk,
    issue_pk,
    issue_sk,
    link_id_sk,
    link_sk,
    object_pk,
    tenant_pk,
)
from trackbridge.storage.mapping import datetime_or_none
from trackbridge.storage.paging import query_page
from trackbridge.storage.table import ConditionFailed, Item, Table, TransactItem

REFRESHED_SK = "REFRESHED"
UNRESOLVED_PREFIX = "REF#"


def unresolved_pk(tenant: str, connection_id: str) -> str:
    return f"{connection_pk(tenant, connection_id)}#UNRESOLVED"


class UnresolvedRef(BaseModel):
    """An issue key found in development activity that names no synced issue (not linked)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str = Field(description="the connection whose repository the activity comes from")
    ref: str = Field(description="the key as written: #12, acme/widgets#12, ACME-12")
    object: ObjectRef = Field(description="the commit or pull/merge request that names it")
    closes: bool = Field(False, description="a closing keyword named it (Fixes #12)")
    url: str | None = Field(None, description="the commit's or request's web page")
    seen_at: UtcDatetime


@dataclass(frozen=True, slots=True)
class LinkedIssue:
    """A linked issue's synced copy (None: not stored) and when a link refresh last pulled it."""

    issue: Issue | None
    refreshed_at: datetime | None


class LinkRepository:
    def __init__(self, table: Table) -> None:
        self.table = table

    @staticmethod
    def _attributes(link: Link) -> Item:
        return {
            "entity": "link",
            "id": link.id,
            "object": link.object.model_dump(by_alias=True),
            "object_key": link.object.key,
            "issue_ref": link.issue_ref,
            "type": link.type,
            "created_by": link.created_by,
            "created_at": to_iso(link.created_at),
        }

    @staticmethod
    def model(item: Item) -> Link:
        return Link(
            id=item["id"],
            object=ObjectRef.model_validate(item["object"]),
            issue_ref=item["issue_ref"],
            type=item["type"],
            created_by=item["created_by"],
            created_at=from_iso(item["created_at"]),
        )

    @staticmethod
    def _keys(tenant: str, link: Link) -> list[tuple[str, str]]:
        return [
            (tenant_pk(tenant), link_id_sk(link.id)),
            (object_pk(tenant, link.object.key), link_sk(link.issue_ref)),
            (issue_pk(tenant, link.issue_ref), link_sk(link.object.key)),
        ]

    def create(self, tenant: str, link: Link, *, also: tuple[TransactItem, ...] = ()) -> Link:
        attributes = self._attributes(link)
        guard, names = "attribute_not_exists(#pk)", {"#pk": PK}
        ops = [
            self.table.put_op({PK: pk, SK: sk, **attributes}, condition=guard, names=names)
            for pk, sk in self._keys(tenant, link)
        ]
        try:
            self.table.transact([*ops, *also])
        except ConditionFailed as exc:
            if exc.index is not None and exc.index < len(ops):
                existing = exc.old_item.get("id") if exc.old_item else None
                raise Conflict(
                    f"{link.object.key} is already linked to {link.issue_ref}",
                    code="ALREADY_EXISTS",
                    details={"link_id": existing},
                    guidance="An object and an issue are linked once: details.link_id names that link "
                    "(DELETE it first to link the pair again with another type).",
                ) from exc
            raise
        return link

    def get(self, tenant: str, link_id: str) -> Link:
        item = self.table.get(tenant_pk(tenant), link_id_sk(link_id))
        if item is None:
            raise NotFound(f"no link {link_id!r}", details={"id": link_id})
        return self.model(item)

    def list_for_object(
        self, tenant: str, obj: ObjectRef, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Link]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=object_pk(tenant, obj.key),
            sk_prefix=LINK_PREFIX,
            limit=limit,
            cursor=cursor,
        )

    def list_for_issue(
        self, tenant: str, issue_ref: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Link]:
        return query_page(
            self.table,
            tenant,
            self.model,
            partition=issue_pk(tenant, issue_ref),
            sk_prefix=LINK_PREFIX,
            limit=limit,
            cursor=cursor,
        )

    def delete(self, tenant: str, link_id: str, *, also: tuple[TransactItem, ...] = ()) -> Link:
        link = self.get(tenant, link_id)
        guard, names = "attribute_exists(#pk)", {"#pk": PK}
        ops = [
            self.table.delete_op(pk, sk, condition=guard, names=names) for pk, sk in self._keys(tenant, link)
        ]
        try:
            self.table.transact([*ops, *also])
        except ConditionFailed as exc:
            if exc.index is not None and exc.index < len(ops):
                raise NotFound(f"no link {link_id!r}", details={"id": link_id}) from exc
            raise
        return link

    # -- the object view: linked issues and when a refresh last pulled them ---------------------------------

    def record_refresh(self, tenant: str, issue_ref: str, at: datetime) -> None:
        """Remember that ``issue_ref`` was pulled from the tracker at ``at`` (a later time only: two
        refreshes racing leave the later one)."""
        stamp = to_iso(at)
        item = {
            PK: issue_pk(tenant, issue_ref),
            SK: REFRESHED_SK,
            "entity": "issue_refresh",
            "refreshed_at": stamp,
        }
        try:
            self.table.put(
                item,
                condition="attribute_not_exists(#pk) OR #r < :r",
                names={"#pk": PK, "#r": "refreshed_at"},
                values={":r": stamp},
            )
        except ConditionFailed:
            return  # a later refresh is already recorded

    # -- link detection: unresolved references and Jira keys ------------------------------------------------

    def record_unresolved(self, tenant: str, entry: UnresolvedRef) -> bool:
        """Keep ``entry``; False when it was kept already (the first sighting stays)."""
        item = {
            PK: unresolved_pk(tenant, entry.connection_id),
            SK: f"{UNRESOLVED_PREFIX}{entry.ref}#{entry.object.key}",
            "entity": "unresolved_ref",
            **entry.model_dump(mode="json", by_alias=True),
        }
        try:
            self.table.put(item, condition="attribute_not_exists(#pk)", names={"#pk": PK})
        except ConditionFailed:
            return False
        return True

    def forget_unresolved(self, tenant: str, connection_id: str, ref: str, obj: ObjectRef) -> None:
        """Drop the record of a reference that now resolved (nothing when there is none)."""
        self.table.delete(unresolved_pk(tenant, connection_id), f"{UNRESOLVED_PREFIX}{ref}#{obj.key}")

    def list_unresolved(
        self, tenant: str, connection_id: str, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[UnresolvedRef]:
        return query_page(
            self.table,
            tenant,
            UnresolvedRef.model_validate,
            partition=unresolved_pk(tenant, connection_id),
            sk_prefix=UNRESOLVED_PREFIX,
            limit=limit,
            cursor=cursor,
        )

    def issue_refs_by_key(self, tenant: str, connection_id: str, keys: Iterable[str]) -> dict[str, str]:
        """``key -> issue ref`` for the live synced issues of the connection among ``keys`` (``ACME-12``):
        the issues' key pointers, two batch reads per 100 keys (``IssueRepository.find_by_keys``)."""
        found = IssueRepository(self.table).find_by_keys(tenant, connection_id, keys)
        return {key: issue.ref for key, issue in found.items() if issue.deleted_at is None}

    def linked_issues(self, tenant: str, wanted: Mapping[str, tuple[str, str]]) -> dict[str, LinkedIssue]:
        """For each issue ref of ``wanted`` (``ref -> (connection_id, external_id)``): its synced copy without
        the body, and its last link refresh; one strongly consistent batch read per 50 issues."""
        issue_keys = {ref: (connection_pk(tenant, cid), issue_sk(eid)) for ref, (cid, eid) in wanted.items()}
        refresh_keys = {ref: (issue_pk(tenant, ref), REFRESHED_SK) for ref in wanted}
        found = self.table.batch_get(
            [*issue_keys.values(), *refresh_keys.values()],
            attributes=(*IssueRepository.LISTED_ATTRIBUTES, "refreshed_at"),
        )
        linked: dict[str, LinkedIssue] = {}
        for ref in wanted:
            issue_item = found.get(issue_keys[ref])
            refresh_item = found.get(refresh_keys[ref])
            linked[ref] = LinkedIssue(
                issue=IssueRepository.model(issue_item) if issue_item else None,
                refreshed_at=datetime_or_none(refresh_item.get("refreshed_at")) if refresh_item else None,
            )
        return linked


__all__ = ["REFRESHED_SK", "LinkRepository", "LinkedIssue", "UnresolvedRef", "unresolved_pk"]
