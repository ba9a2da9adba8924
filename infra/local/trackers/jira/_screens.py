"""Create screens of the Jira sandbox: the fields an issue of each (project, issue type) may be created with.

Jira answers a create that sets a field missing from the issue type's create screen with 400
``Field 'priority' cannot be set. It is not on the appropriate screen, or unknown.``, and one that leaves a
required field out with ``{field name} is required.``: the failure Alertmanager's Jira receiver hits when a
project's screen lacks its labels or priority (prometheus/alertmanager#4309). The sandbox seeds two kinds of
projects so clients can meet both:

- ``ACME`` (and any type not listed below): the full default screen, everything the sandbox can store;
- ``OPS``: its ``Task`` screen has no ``priority``; its ``Bug`` screen requires the select field
  ``customfield_10050`` (*Affected service*).

The same table drives ``GET /rest/api/3/issue/createmeta/{project}/issuetypes[/{id}]`` and the create route,
so what createmeta promises is exactly what a create accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._state import AFFECTED_SERVICE_FIELD, BUG, OPS_PROJECT_KEY, SPRINT_FIELD, TASK


@dataclass(frozen=True, slots=True)
class FieldOption:
    """One allowed value of a select custom field (``{"id", "value"}`` in requests and answers)."""

    id: str
    value: str


# Select custom fields: id -> (name, options). Their values are stored on the issue as the option id.
SELECT_FIELDS: dict[str, tuple[str, tuple[FieldOption, ...]]] = {
    AFFECTED_SERVICE_FIELD: (
        "Affected service",
        (FieldOption("10100", "api"), FieldOption("10101", "billing"), FieldOption("10102", "web")),
    ),
}

# System fields every create screen carries and Jira marks required.
ALWAYS_REQUIRED: tuple[str, ...] = ("summary", "issuetype", "project")
# The default screen: what the sandbox's create route can store, in Jira's createmeta order.
DEFAULT_SCREEN: tuple[str, ...] = (
    "summary",
    "issuetype",
    "parent",
    "description",
    "project",
    "reporter",
    "assignee",
    "priority",
    "labels",
    "duedate",
    "environment",
    "timetracking",
    SPRINT_FIELD,
)


@dataclass(frozen=True, slots=True)
class Screen:
    """The fields of one create screen, in order, and which of them a create must set."""

    fields: tuple[str, ...]
    required: frozenset[str]

    def offers(self, field_id: str) -> bool:
        return field_id in self.fields


def _screen(*, without: tuple[str, ...] = (), extra_required: tuple[str, ...] = ()) -> Screen:
    fields = tuple(f for f in DEFAULT_SCREEN if f not in without) + extra_required
    return Screen(fields, frozenset(ALWAYS_REQUIRED) | frozenset(extra_required))


DEFAULT = _screen()
# (project key, issue type id) -> screen; anything not listed uses DEFAULT.
SCREENS: dict[tuple[str, str], Screen] = {
    (OPS_PROJECT_KEY, TASK): _screen(without=("priority",)),
    (OPS_PROJECT_KEY, BUG): _screen(extra_required=(AFFECTED_SERVICE_FIELD,)),
}


def screen_for(project_key: str, type_id: str) -> Screen:
    return SCREENS.get((project_key, type_id), DEFAULT)


def select_option(field_id: str, value: object) -> FieldOption | None:
    """The option ``{"id"}`` or ``{"value"}`` names, for a select field; None when it names none."""
    _, options = SELECT_FIELDS[field_id]
    if not isinstance(value, dict):
        return None
    wanted_id, wanted_value = value.get("id"), value.get("value")
    for option in options:
        if (wanted_id is not None and str(wanted_id) == option.id) or (
            wanted_value is not None and wanted_value == option.value
        ):
            return option
    return None


__all__ = [
    "AFFECTED_SERVICE_FIELD",
    "DEFAULT",
    "SCREENS",
    "SELECT_FIELDS",
    "FieldOption",
    "Screen",
    "screen_for",
    "select_option",
]
