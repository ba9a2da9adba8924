"""Record matching's decisions (``runtime.sync.record_matching``): which pending claim a synced issue adopts,
and what the adopting write says, on in-memory values and a fake claims store."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.unit.sync.fakes import CONNECTION_ID, T0
from trackbridge.domain.automation import FingerprintClaim
from trackbridge.domain.issues import Issue
from trackbridge.runtime.sync.record_matching import CLOCK_SKEW, RecordMatcher, adopted, match_claims
from trackbridge.storage.automation import ClaimLost

STALE = timedelta(seconds=300)
NOW = T0 + timedelta(hours=1)


def claim(
    fingerprint: str = "f1", *, at: datetime = T0, state: str = "claimed", **changes: object
) -> FingerprintClaim:
    fields: dict[str, object] = {
        "rule": "cpu",
        "fingerprint": fingerprint,
        "connection_id": CONNECTION_ID,
        "state": state,
        "owner": "worker-1",
        "claimed_at": at,
        **changes,
    }
    return FingerprintClaim.model_validate(fields)


def issue(number: int, body: str = "", *, created: datetime = T0 + timedelta(seconds=2)) -> Issue:
    return Issue(
        ref=f"{CONNECTION_ID}.{number}",
        external_id=f"github:https://github.com/acme/widgets:{number}",
        connection_id=CONNECTION_ID,
        provider="github",
        key=f"#{number}",
        title="[ALARM] ServerCpuTooHigh",
        body=body,
        status="open",
        status_category="todo",
        url=f"https://github.com/acme/widgets/issues/{number}",
        created_at=created,
        updated_at=created,
    ).with_hash()


def test_a_stale_claim_adopts_the_issue_carrying_its_marker() -> None:
    # Given: a stale claim, the issue with its marker, and one with the same title and no marker
    pending = claim()
    marked = issue(7, f"alarm text\n(ref {pending.marker} )")
    lookalike = issue(8, "alarm text, same title")

    # When: the page's created issues are matched
    matches = match_claims([lookalike, marked], [pending], connection_id=CONNECTION_ID, now=NOW)

    # Then: the marked issue alone, never the title lookalike
    assert [(m.claim.fingerprint, m.issue.ref) for m in matches] == [("f1", marked.ref)]


@pytest.mark.parametrize(
    ("pending", "created", "why"),
    [
        (
            claim(at=NOW - timedelta(seconds=10)),
            T0 + timedelta(hours=1),
            "fresh: its worker is still creating",
        ),
        (claim(state="created", issue_ref="x.1"), T0, "already created"),
        (claim(connection_id="conn_abcdefghijklmnopqrst"), T0, "another connection's claim"),
        (claim(), T0 - CLOCK_SKEW - timedelta(seconds=1), "an issue older than its claim"),
    ],
    ids=["fresh", "created", "other-connection", "older-issue"],
)
def test_claims_that_must_not_adopt(pending: FingerprintClaim, created: datetime, why: str) -> None:
    candidate = issue(7, f"(ref {pending.marker} )", created=created)
    assert match_claims([candidate], [pending], connection_id=CONNECTION_ID, now=NOW) == [], why


def test_of_two_issues_with_one_marker_the_earliest_is_adopted() -> None:
    # Given: a create that was repeated, so two issues carry one claim's marker
    pending = claim()
    later = issue(9, pending.marker, created=T0 + timedelta(minutes=2))
    first = issue(8, pending.marker, created=T0 + timedelta(minutes=1))

    # Then: the first created, as the auto-issue recovery picks
    [match] = match_claims([later, first], [pending], connection_id=CONNECTION_ID, now=NOW)
    assert match.issue.ref == first.ref


def test_the_adopting_write_records_the_issue_on_the_next_version() -> None:
    pending = claim(version=3)
    found = issue(7, pending.marker)
    written = adopted(pending, found)
    assert (written.state, written.issue_ref, written.issue_key, written.issue_url, written.version) == (
        "created",
        found.ref,
        "#7",
        found.url,
        4,
    )
    assert written.last_comment_at == found.created_at
    assert (written.rule, written.fingerprint, written.marker) == (
        pending.rule,
        pending.fingerprint,
        pending.marker,
    )


class FakeClaims:
    def __init__(self, *claims: FingerprintClaim, lose: bool = False) -> None:
        self.stored = {c.fingerprint: c for c in claims}
        self.queries = 0
        self.lose = lose

    def pending(self, tenant: str, connection_id: str) -> list[FingerprintClaim]:
        self.queries += 1
        return [c for c in self.stored.values() if c.state == "claimed"]

    def replace(self, tenant: str, claim: FingerprintClaim) -> FingerprintClaim:
        if self.lose or self.stored[claim.fingerprint].version != claim.version - 1:
            raise ClaimLost(self.stored[claim.fingerprint])
        self.stored[claim.fingerprint] = claim
        return claim


def test_no_created_issue_costs_no_read_and_a_lost_race_is_left_alone() -> None:
    pending = claim()
    store = FakeClaims(pending)
    matcher = RecordMatcher(store, clock=lambda: NOW)

    # A page that creates nothing asks nothing
    assert matcher.adopt("t", CONNECTION_ID, []) == []
    assert store.queries == 0

    # One query for a page's created issues, one conditional write for the match
    [written] = matcher.adopt("t", CONNECTION_ID, [issue(7, pending.marker), issue(8)])
    assert store.queries == 1
    assert store.stored["f1"] == written
    assert written.state == "created"

    # Someone recorded it first: the matcher writes nothing and raises nothing
    racing = FakeClaims(claim("f2"), lose=True)
    assert (
        RecordMatcher(racing, clock=lambda: NOW).adopt("t", CONNECTION_ID, [issue(9, claim("f2").marker)])
        == []
    )
