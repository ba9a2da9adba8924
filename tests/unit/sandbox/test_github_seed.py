"""The GitHub sandbox's seeded state: deterministic, consistent, and compact enough to scale.

No timing here (timed tests are flaky); ``benchmarks/sandbox_scale.py`` measures seed time, memory and page
latency at 100,000 issues.
"""

from __future__ import annotations

from infra.local.trackers.github import GitHubSandbox


def test_ten_thousand_issues_seed_consistently() -> None:
    sandbox = GitHubSandbox(seed="scale", issues=10_000, comments_per_issue=3, closed_ratio=0.3)
    state = sandbox.state

    assert len(state.issues) == 10_000
    assert len(state.comments) == len(state.comment_ids) == 30_000
    assert state.comment_ids == sorted(state.comment_ids)
    created = [state.comments[cid].created_at for cid in state.comment_ids]
    assert created == sorted(created)  # ids grow with creation time, as on GitHub
    assert [key[1] for key in state.by_updated] == [
        i.number for i in sorted(state.live_issues(), key=lambda i: (i.updated_at, i.number))
    ]
    assert state.open_count == sum(1 for i in state.live_issues() if i.state == "open")
    closed = 10_000 - state.open_count
    assert 2_500 < closed < 3_500
    assert all(i.updated_at >= i.created_at for i in state.live_issues())
    assert all(i.comments == len(state.comments_by_issue.get(i.number, [])) for i in state.live_issues())
    assert any(i.pull for i in state.live_issues())


def test_same_seed_same_data_other_seed_other_data() -> None:
    one = GitHubSandbox(seed="s1", issues=200)
    two = GitHubSandbox(seed="s1", issues=200)
    other = GitHubSandbox(seed="s2", issues=200)

    assert one.state.issues == two.state.issues
    assert one.state.comments == two.state.comments
    assert one.state.issues != other.state.issues


def test_reset_is_a_clean_slate() -> None:
    sandbox = GitHubSandbox(seed="s1", issues=20)
    before = list(sandbox.state.issues)
    sandbox.mutate("create", fields={"title": "extra"})
    sandbox.add_faults([{"route": "*", "status": 500}])

    sandbox.reset()

    assert sandbox.state.issues == before
    assert sandbox.faults() == []
    assert sandbox.requests()["total"] == 0


def test_mutations_keep_indexes_in_step() -> None:
    sandbox = GitHubSandbox(seed="s1", issues=30)
    sandbox.clock.freeze(1_900_000_000)

    third = sandbox.state.issue(3)
    assert third is not None
    sandbox.mutate("update", number=3, fields={"state": "closed" if third.state == "open" else "open"})
    sandbox.mutate("comment", number=4, body="hi")
    sandbox.mutate("delete", number=5)
    created = sandbox.mutate("create", fields={"title": "new"})

    state = sandbox.state
    assert created["number"] == 31
    assert state.by_updated.keys()[-1] == (1_900_000_000, 31)
    assert (1_900_000_000, 3) in list(state.by_updated)
    assert all(key[1] != 5 for key in state.by_updated)
    assert state.open_count == sum(1 for i in state.live_issues() if i.state == "open")
    assert state.deleted_count == 1
