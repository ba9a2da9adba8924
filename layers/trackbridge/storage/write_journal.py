"""Writing synced items (issues, comments, worklogs): DESIGN section 10's newer-wins conditional put, writes
from outside a sync (webhooks, tracker actions' write-through), and how a sync's batch writes stay behind
them.

A sync writes an item its batch read showed absent with an unconditional ``BatchWriteItem`` (25 items a
request, several in flight), not with DESIGN section 10's conditional put: on a first full sync that is
nearly every item, and a conditional ``PutItem`` each cost one round trip per item. ``BatchWriteItem`` takes
no condition, so a writer that stores a newer version of the same item between the sync's read and its
batch would be overwritten by the older one. This module closes that window:

1. a writer outside the sync first journals the version it is about to store: a record next to the item
   (same partition, sort key ``RECENT#{item sort key}``) holding the whole item, written under the same
   newer-wins condition (so the journal keeps the newest version any outside writer had), with a
   ``expires_at`` a day ahead; then it writes the item with the conditional put as before;
2. after its batch lands, the sync reads the journal records of the items it just created (one consistent
   ``BatchGetItem`` per 100) and writes each one found back through the conditional put: a version newer
   than the sync's wins again, an older one changes nothing.

Why nothing is lost: an outside write the batch overwrote landed after the sync's read (the read would have
shown it, and the item would have taken the conditional path) and before the batch; its journal record
was written before it, so it is stored before the sync reads the journal, which happens after the batch.
A write landing after the batch meets the batch's version in its own condition. The only bound is the
journal's lifetime: a day, against a read, a batch and a journal read that follow each other within one
sync page. The cost: one strongly consistent read per created item (about a fifth of the price of the
write it saves), and one extra conditional write per outside write.

The record's top-level attributes are its key, ``updated_at`` and ``content_hash`` (what the condition
compares) and the item as a map: no index key, so journal records never show in listings or indexes,
and listings read the item sort-key prefixes (``ISSUE#``, ``COMMENT#``), never ``RECENT#``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Literal

from trackbridge.domain.sync_plan import StoredVersion, earlier_write, write_mark
from trackbridge.storage.keys import PK, SK, TTL_ATTRIBUTE, issue_key_sk
from trackbridge.storage.sync import SYNC_MARK
from trackbridge.storage.table import ConditionFailed, Item, Table

WriteOutcome = Literal["created", "updated", "unchanged"]
_NEWER_OR_DIFFERENT = "attribute_not_exists(#pk) OR #u < :u OR (#u = :u AND #h <> :h)"


def put_if_newer(table: Table, item: Item) -> WriteOutcome:
    """The ordering rule of DESIGN section 10 for any item carrying ``updated_at`` and ``content_hash``."""
    try:
        old = table.put(
            item,
            condition=_NEWER_OR_DIFFERENT,
            names={"#pk": PK, "#u": "updated_at", "#h": "content_hash"},
            values={":u": item["updated_at"], ":h": item["content_hash"]},
            return_old=True,
        )
    except ConditionFailed as exc:
        return _own_earlier_attempt(item, exc.old_item) or "unchanged"
    return "updated" if old else "created"


def _own_earlier_attempt(item: Item, stored: Item | None) -> WriteOutcome | None:
    """What this very write did, when the item that failed its condition is its own first attempt.

    botocore retries a request whose answer it did not get (a read timeout, a 500); when the first attempt
    landed, the retry finds it stored and fails the condition. Only a write carrying a sync mark can tell
    (``{operation}/{c|u|d}``, ``domain.sync_plan.write_mark``): the stored copy with the same mark, update
    time and hash is this operation's own write of this version, counted as its mark records it. A tombstone
    (``d``) replaces a stored item, so it counts as an update (the writer counts that as a deletion). An
    unmarked write (a webhook) cannot tell its own copy from an equal one and stays "unchanged".
    """
    mark = item.get(SYNC_MARK)
    if not mark or stored is None:
        return None
    if any(stored.get(name) != item.get(name) for name in (SYNC_MARK, "updated_at", "content_hash")):
        return None
    operation_id = str(mark).rpartition("/")[0]
    version = StoredVersion(
        updated_at=str(item["updated_at"]), content_hash=str(item["content_hash"]), mark=str(mark)
    )
    if mark == write_mark(operation_id, "update", tombstone=True):
        return "updated"
    return earlier_write(version, operation_id)


JOURNAL_PREFIX = "RECENT#"
JOURNAL_TTL_S = 24 * 3600

Key = tuple[str, str]


def journal_key(key: Key) -> Key:
    """Where the journal record of the item at ``key`` lives."""
    pk, sk = key
    return pk, f"{JOURNAL_PREFIX}{sk}"


def journal_record(item: Item, *, now: float) -> Item:
    pk, sk = journal_key((item[PK], item[SK]))
    return {
        PK: pk,
        SK: sk,
        "entity": "write_journal",
        "updated_at": item["updated_at"],
        "content_hash": item["content_hash"],
        "item": dict(item),
        TTL_ATTRIBUTE: int(now) + JOURNAL_TTL_S,
    }


def write_outside_sync(table: Table, item: Item, *, clock: Callable[[], float] = time.time) -> WriteOutcome:
    """Store ``item`` (an issue or comment in its table shape) from outside a sync: journal, then the
    conditional put, then the issue's key pointer (:func:`key_pointer`) when the put landed. A journal
    record already holding a newer version stays (the condition fails)."""
    put_if_newer(table, journal_record(item, now=clock()))
    outcome = put_if_newer(table, item)
    pointer = key_pointer(item)
    if outcome != "unchanged" and pointer is not None:
        table.put(pointer)
    return outcome


def key_pointer(item: Item) -> Item | None:
    """The ``KEY#{key}`` pointer of a stored issue whose key its ref does not tell (Jira's ``ACME-12`` for
    issue id 10012), else None: a forge's ``#12`` is issue 12, found by its id without a pointer.

    The pointer maps a key to the issue's external id, which never changes, so writing it is idempotent
    and needs no condition; it is written with each version of the issue that lands (a Jira issue moved
    to another project gets a pointer for its new key, and its old key still finds it, as Jira's own
    redirects do). A tombstone keeps its pointer: readers check ``deleted_at`` on the issue itself.
    """
    if item.get("entity") != "issue" or item.get("deleted_at"):
        return None
    key, ref = str(item.get("key") or ""), str(item.get("ref") or "")
    if not key or ref.endswith(f".{key.removeprefix('#')}"):
        return None
    return {
        PK: item[PK],
        SK: issue_key_sk(key),
        "entity": "issue_key",
        "key": key,
        "ref": ref,
        "external_id": item["external_id"],
    }


def restore_outside_writes(table: Table, keys: Sequence[Key]) -> set[Key]:
    """After a sync's unconditional batch of ``keys``: write back every journaled outside version of those
    items through the conditional put. Returns the keys where an outside version won (the batch's version
    was older, or was overwritten meanwhile)."""
    if not keys:
        return set()
    records = table.batch_get([journal_key(key) for key in keys])
    won: set[Key] = set()
    for record in records.values():
        item = record.get("item")
        if isinstance(item, dict) and put_if_newer(table, item) != "unchanged":
            won.add((item[PK], item[SK]))
    return won


__all__ = [
    "JOURNAL_PREFIX",
    "JOURNAL_TTL_S",
    "WriteOutcome",
    "journal_key",
    "journal_record",
    "key_pointer",
    "put_if_newer",
    "restore_outside_writes",
    "write_outside_sync",
]
