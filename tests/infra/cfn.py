"""Small readers for a synthesized CloudFormation template, so tests say what they check, not how to dig."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

Template = dict[str, Any]


def resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of ``resource_type``."""
    return {lid: res for lid, res in template["Resources"].items() if res["Type"] == resource_type}


def one(template: Template, resource_type: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    """The single resource of ``resource_type`` whose properties include ``properties``."""
    found = [
        (lid, res)
        for lid, res in resources(template, resource_type).items()
        if all(res["Properties"].get(key) == value for key, value in properties.items())
    ]
    assert len(found) == 1, (
        f"expected one {resource_type} with {properties}, found {[lid for lid, _ in found]}"
    )
    return found[0]


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str = "Arn") -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement of the inline policies attached to a role."""
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if ref(role_id) in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_on(template: Template, role_id: str) -> dict[str, list[Any]]:
    """Action -> the resources a role's policies allow it on (Allow statements only)."""
    allowed: dict[str, list[Any]] = {}
    for statement in role_statements(template, role_id):
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            allowed.setdefault(action, []).extend(as_list(statement["Resource"]))
    return allowed


def all_policy_statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) for every identity policy and role trust policy in the template."""
    for lid, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield lid, statement
    for lid, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield lid, statement


def joined(value: Any) -> str:
    """Flatten an ``Fn::Join`` (or plain string) into text, with ``{Ref}`` placeholders for references."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(joined(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "{" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "{" + ".".join(value["Fn::GetAtt"]) + "}"
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("Fn::"):
        # Other intrinsics (Fn::Select, Fn::Split, ...) stay recognisable but opaque.
        return "{" + json.dumps(value, sort_keys=True) + "}"
    raise AssertionError(f"cannot flatten {value!r}")
