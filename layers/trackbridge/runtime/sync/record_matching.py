"""Matching synced issues to records trackbridge created locally before (issue 19).

The record this is about is the auto-issue fingerprint claim (DESIGN section 10): a worker claims
``FP#{rule}#{fingerprint}``, creates the issue with the claim's marker in its body, then records ``created``
with the issue's ref. A worker that dies between the tracker call and the record leaves the claim in
``claimed`` while the issue exists. The auto-issue recovery finds it later by searching the tracker for the
marker; a sync that lists the issue finds it sooner, and adopts it here: the claim moves to ``created``
with the issue's ref, key and URL, by a conditional write on the version it read. Either side may win; the
other's conditional write fails and it acts on what it then finds, so there is exactly one issue at the
tracker and one claim pointing at it (the race tests in ``tests/integration/sync/test_record_matching``).

What matches (:func:`match_claims`, a decision returned by value):

* the claim is ``claimed`` for this connection (the connection is the repository/project), and stale:
  claimed at least ``stale_after`` ago, as the recovery requires (a fresh claim's worker is still creating
  the issue, and will record it with its link and audit entry itself);
* the issue's body carries the claim's marker (unique per rule, fingerprint and generation), and the issue
  was not created before the claim (minus a clock-skew allowance);
* the title alone never matches: claims do not keep the rendered title, and two alarms of one rule share
  a title template, so a title match could adopt the wrong issue;
* several issues carrying one marker (a create was repeated): the earliest created, as the recovery picks.

Cost: called with the issues a page *creates* (no stored record by external id); none, no read. Otherwise
one query of the connection's sparse pending-claims index (``FingerprintRepository.pending``), which reads
nothing when the tenant has no pending claim. The synced issue itself is written by the sync as always (by
external id, so never twice); this module only moves the claim.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from trackbridge.domain.automation import FingerprintClaim
from trackbridge.domain.issues import Issue
from trackbridge.runtime.automation.fingerprints import DEFAULT_STALE_AFTER
from trackbridge.runtime.observability import logger
from trackbridge.storage.automation import ClaimLost, FingerprintRepository

if TYPE_CHECKING:
    from trackbridge.runtime.sync.syncers import SyncRun

# A tracker's clock and trackbridge's may disagree by this much: an issue "created" this long before its
# claim may still be the claim's.
CLOCK_SKEW = timedelta(minutes=5)


class PendingClaims(Protocol):
    """``storage.automation.FingerprintRepository``, the part used here."""

    def pending(self, tenant: str, connection_id: str) -> list[FingerprintClaim]: ...

    def replace(self, tenant: str, claim: FingerprintClaim) -> FingerprintClaim: ...


@dataclass(frozen=True, slots=True)
class Match:
    claim: FingerprintClaim
    issue: Issue


def match_claims(
    issues: Sequence[Issue],
    claims: Sequence[FingerprintClaim],
    *,
    connection_id: str,
    now: datetime,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> list[Match]:
    """Which claim each issue adopts (at most one issue per claim, one claim per issue); see module doc."""
    matches: list[Match] = []
    for claim in claims:
        if claim.state != "claimed" or claim.connection_id != connection_id:
            continue
        if now - claim.claimed_at < stale_after:
            continue
        marker = claim.marker
        found = [
            issue
            for issue in issues
            if marker in (issue.body or "") and issue.created_at >= claim.claimed_at - CLOCK_SKEW
        ]
        if found:
            matches.append(Match(claim, min(found, key=lambda i: (i.created_at, i.ref))))
    return matches


def adopted(claim: FingerprintClaim, issue: Issue) -> FingerprintClaim:
    """The claim's next version once ``issue`` is known to be its issue (as the auto-issue worker records
    it: the repeat-comment window opens at the issue's creation)."""
    return claim.model_copy(
        update={
            "state": "created",
            "issue_ref": issue.ref,
            "issue_key": issue.key,
            "issue_url": issue.url,
            "closed_at": None,
            "resolved_at": None,
            "last_comment_at": issue.created_at,
            "version": claim.version + 1,
        }
    )


@dataclass(frozen=True)
class RecordMatcher:
    claims: PendingClaims
    clock: Callable[[], datetime]
    stale_after: timedelta = DEFAULT_STALE_AFTER

    def adopt(self, tenant: str, connection_id: str, created: Sequence[Issue]) -> list[FingerprintClaim]:
        """Adopt the pending claims ``created`` (issues without a stored record) match; returns the claims
        written. A claim moved meanwhile (the recovery, or its own worker, recorded it) is left alone."""
        if not created:
            return []
        pending = self.claims.pending(tenant, connection_id)
        if not pending:
            return []
        written = []
        for match in match_claims(
            created, pending, connection_id=connection_id, now=self.clock(), stale_after=self.stale_after
        ):
            try:
                written.append(self.claims.replace(tenant, adopted(match.claim, match.issue)))
            except ClaimLost:
                continue  # someone recorded it first: exactly what adoption wanted
            logger.warning(
                "sync.claim_adopted",
                extra={"tenant": tenant, "rule": match.claim.rule, "issue_ref": match.issue.ref},
            )
        return written


def adopt_local_records(run: SyncRun, created: Sequence[Any]) -> list[FingerprintClaim]:
    """The sync's hook (``ListingSyncer._write``): the issues among ``created`` adopt matching claims.

    The claims live in the table the run writes synced items to; a writer or store without a table (a
    test's fake) has no claims to match."""
    issues = [item for item in created if isinstance(item, Issue)]
    table = getattr(getattr(run.writer, "store", None), "table", None)
    if not issues or table is None:
        return []
    return RecordMatcher(FingerprintRepository(table), run.now).adopt(run.tenant, run.connection_id, issues)


__all__ = [
    "CLOCK_SKEW",
    "Match",
    "PendingClaims",
    "RecordMatcher",
    "adopt_local_records",
    "adopted",
    "match_claims",
]
