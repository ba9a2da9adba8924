"""Redmine's JSON shapes, written from the sandbox's records per response.

Two families: the REST API's (``app/views/issues/show.api.rsb`` and ``index.api.rsb``: people as ``{"id",
"name"}``, ``status`` with ``is_closed`` as Redmine 5.1+ renders it, custom fields as ``{"id", "name",
"multiple", "value"}``, times as ``2014-03-01T15:17:48Z``), and the redmine_webhook plugin's
(``IssueWrapper``, ``JournalWrapper``, ``AuthorWrapper``: people by ``login``/``firstname``/``lastname``/
``mail``, ``status`` without ``is_closed``, the project with its ``identifier``).
"""

from __future__ import annotations

import time
from typing import Any

from .._clock import iso_z
from ._state import (
    LABELS_FIELD_ID,
    LABELS_FIELD_NAME,
    PRIORITIES,
    PROJECT_ID,
    PROJECT_IDENTIFIER,
    PROJECT_NAME,
    STATUS_BY_ID,
    TRACKERS,
    Issue,
    Journal,
    Person,
    RedmineState,
)

_TRACKER_NAMES = dict(TRACKERS)
_PRIORITY_NAMES = dict(PRIORITIES)


def _date(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def person_ref(person: Person | None) -> dict[str, Any] | None:
    return {"id": person.id, "name": person.name} if person is not None else None


def status_json(status_id: int) -> dict[str, Any]:
    name, closed = STATUS_BY_ID[status_id]
    return {"id": status_id, "name": name, "is_closed": closed}


def labels_field(values: list[str]) -> dict[str, Any]:
    return {"id": LABELS_FIELD_ID, "name": LABELS_FIELD_NAME, "multiple": True, "value": list(values)}


def issue_json(state: RedmineState, issue: Issue, *, journals: bool = False) -> dict[str, Any]:
    """One issue as ``GET /issues.json`` lists it (``include=journals`` adds them, oldest first)."""
    body: dict[str, Any] = {
        "id": issue.id,
        "project": {"id": PROJECT_ID, "name": PROJECT_NAME},
        "tracker": {"id": issue.tracker_id, "name": _TRACKER_NAMES[issue.tracker_id]},
        "status": status_json(issue.status_id),
        "priority": {"id": issue.priority_id, "name": _PRIORITY_NAMES[issue.priority_id]},
        "author": person_ref(state.person(issue.author_id)),
    }
    assignee = state.person(issue.assigned_to_id)
    if assignee is not None:
        body["assigned_to"] = person_ref(assignee)
    body.update(
        {
            "subject": issue.subject,
            "description": issue.description,
            "start_date": _date(issue.created_on),
            "due_date": None,
            "done_ratio": 100 if issue.is_closed else 0,
            "is_private": False,
            "estimated_hours": None,
            "total_estimated_hours": None,
            "spent_hours": 0.0,
            "total_spent_hours": 0.0,
            "custom_fields": [labels_field(issue.labels)],
            "created_on": iso_z(issue.created_on),
            "updated_on": iso_z(issue.updated_on),
            "closed_on": iso_z(issue.closed_on) if issue.closed_on is not None else None,
        }
    )
    if journals:
        body["journals"] = [journal_json(state, j) for j in state.journals_of(issue.id)]
    return body


def journal_json(state: RedmineState, journal: Journal) -> dict[str, Any]:
    return {
        "id": journal.id,
        "user": person_ref(state.person(journal.user_id)),
        "notes": journal.notes,
        "created_on": iso_z(journal.created_on),
        "updated_on": iso_z(journal.updated_on),
        "private_notes": journal.private_notes,
        "details": list(journal.details),
    }


def project_json(state: RedmineState, *, custom_fields: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": PROJECT_ID,
        "name": PROJECT_NAME,
        "identifier": PROJECT_IDENTIFIER,
        "description": "The sandbox's one project.",
        "homepage": "",
        "status": 1,
        "is_public": False,
        "inherit_members": False,
        "created_on": iso_z(state.created_on),
        "updated_on": iso_z(state.created_on),
    }
    if custom_fields:
        body["issue_custom_fields"] = [{"id": LABELS_FIELD_ID, "name": LABELS_FIELD_NAME}]
    return body


# ---- the redmine_webhook plugin -------------------------------------------------------------------


def _author(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {
        "id": person.id,
        "login": person.login,
        "mail": person.mail,
        "firstname": person.firstname,
        "lastname": person.lastname,
        "identity_url": None,
        "icon_url": "http://www.gravatar.com/avatar/00000000000000000000000000000000",
    }


def hook_issue(state: RedmineState, issue: Issue) -> dict[str, Any]:
    """``IssueWrapper#to_hash``."""
    name, _ = STATUS_BY_ID[issue.status_id]
    return {
        "id": issue.id,
        "subject": issue.subject,
        "description": issue.description,
        "created_on": iso_z(issue.created_on),
        "updated_on": iso_z(issue.updated_on),
        "closed_on": iso_z(issue.closed_on) if issue.closed_on is not None else None,
        "root_id": issue.id,
        "parent_id": None,
        "done_ratio": 100 if issue.is_closed else 0,
        "start_date": _date(issue.created_on),
        "due_date": None,
        "custom_fields": [{"id": LABELS_FIELD_ID, "name": LABELS_FIELD_NAME, "value": list(issue.labels)}],
        "estimated_hours": None,
        "is_private": False,
        "lock_version": issue.lock_version,
        "project": {
            "id": PROJECT_ID,
            "identifier": PROJECT_IDENTIFIER,
            "name": PROJECT_NAME,
            "description": "",
            "created_on": iso_z(state.created_on),
            "homepage": "",
        },
        "status": {"id": issue.status_id, "name": name},
        "tracker": {"id": issue.tracker_id, "name": _TRACKER_NAMES[issue.tracker_id]},
        "priority": {"id": issue.priority_id, "name": _PRIORITY_NAMES[issue.priority_id]},
        "author": _author(state.person(issue.author_id)),
        "assignee": _author(state.person(issue.assigned_to_id)),
        "watchers": [],
    }


def hook_payload(state: RedmineState, base_url: str, issue: Issue, journal: Journal | None) -> dict[str, Any]:
    """``WebhookListener#issue_to_json`` (no journal: ``opened``) or ``#journal_to_json`` (``updated``)."""
    payload: dict[str, Any] = {
        "action": "opened" if journal is None else "updated",
        "issue": hook_issue(state, issue),
        "url": f"{base_url}/issues/{issue.id}",
        "icon_url": "http://www.gravatar.com/avatar/00000000000000000000000000000000",
    }
    if journal is not None:
        payload["journal"] = {
            "id": journal.id,
            "notes": journal.notes,
            "created_on": iso_z(journal.created_on),
            "private_notes": journal.private_notes,
            "author": _author(state.person(journal.user_id)),
            "details": [
                {
                    "id": index,
                    "value": d.get("new_value"),
                    "old_value": d.get("old_value"),
                    "prop_key": d.get("name"),
                    "property": d.get("property"),
                }
                for index, d in enumerate(journal.details, start=1)
            ],
        }
    return {"payload": payload}


__all__ = [
    "hook_issue",
    "hook_payload",
    "issue_json",
    "journal_json",
    "labels_field",
    "person_ref",
    "project_json",
    "status_json",
]
