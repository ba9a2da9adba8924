"""The Redmine sandbox read and written through python-redmine: the client people use agrees with it.

python-redmine (``redminelib``) builds its own requests (its ``ResourceSet`` pages by ``offset``/``limit``
and reads ``total_count``; an update expects Redmine's bare 204; a 422 ``{"errors": [...]}`` becomes its
``ValidationError``), so every call here checks the sandbox's wire format, not trackbridge's reading of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.trackers.redmine import RedmineSandbox

redminelib = pytest.importorskip("redminelib")
exceptions = pytest.importorskip("redminelib.exceptions")

pytestmark = [pytest.mark.integration]

ISSUES = 130
PROJECT = "acme-widgets"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RedmineSandbox]:
    with RedmineSandbox(seed="client", issues=ISSUES, comments_per_issue=2) as tracker:
        yield tracker


@pytest.fixture
def redmine(sandbox: RedmineSandbox) -> Any:
    sandbox.reset()
    return redminelib.Redmine(sandbox.url, key=sandbox.token, requests={"timeout": 60})


def test_the_listing_pages_to_every_issue_open_and_closed(redmine: Any, sandbox: RedmineSandbox) -> None:
    everything = list(redmine.issue.filter(project_id=PROJECT, status_id="*"))
    assert len(everything) == ISSUES == len(sandbox.state.issues)
    assert len({i.id for i in everything}) == ISSUES
    open_only = list(redmine.issue.filter(project_id=PROJECT))
    assert 0 < len(open_only) < ISSUES
    assert all(not sandbox.state.issues[i.id].is_closed for i in open_only)
    # python-redmine asks 100 at a time: two pages, the second from offset 100
    asked = sandbox.requests()["by_route"]["GET /issues.json"]
    assert asked >= 2


def test_journals_statuses_and_the_labels_field(redmine: Any, sandbox: RedmineSandbox) -> None:
    issue = redmine.issue.get(1, include=["journals"])
    notes = [j.notes for j in issue.journals if j.notes]
    assert len(notes) == 2
    assert issue.custom_fields.get(1).name == "Labels"
    statuses = {s.name: s.is_closed for s in redmine.issue_status.all()}
    assert statuses["Closed"] is True
    assert statuses["New"] is False


def test_create_update_and_note_through_the_client(redmine: Any, sandbox: RedmineSandbox) -> None:
    created = redmine.issue.create(
        project_id=PROJECT, subject="Created by python-redmine", custom_fields=[{"id": 1, "value": ["ops"]}]
    )
    assert created.id == ISSUES + 1
    assert redmine.issue.update(created.id, subject="Renamed", notes="a note") is True
    again = redmine.issue.get(created.id, include=["journals"])
    assert again.subject == "Renamed"
    assert [j.notes for j in again.journals] == ["a note"]
    assert sandbox.state.issues[created.id].labels == ["ops"]
    since = redmine.issue.filter(
        project_id=PROJECT, status_id="*", updated_on=f">={again.updated_on.isoformat()}Z"
    )
    assert created.id in {i.id for i in since}


def test_errors_are_what_the_client_expects(redmine: Any, sandbox: RedmineSandbox) -> None:
    with pytest.raises(exceptions.ValidationError) as invalid:
        redmine.issue.create(project_id=PROJECT, subject="")
    assert "Subject cannot be blank" in str(invalid.value)
    with pytest.raises(exceptions.ResourceNotFoundError):
        redmine.issue.get(ISSUES + 500)
    outsider = redminelib.Redmine(sandbox.url, key="not-the-sandbox-key", requests={"timeout": 60})
    with pytest.raises(exceptions.AuthError):
        outsider.issue.get(1)
