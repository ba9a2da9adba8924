"""Acknowledging cdk-nag findings, one specific finding at a time, always with the reason beside it.

cdk-nag 3 reads CDK's own ``Validations.of(scope).acknowledge(...)``. An acknowledgement covers the scope and
its children, and a rule that reports several findings per resource (IAM5 wildcards) needs one entry per
finding, ``AwsSolutions-IAM5[Resource::<pattern>]``. The helpers build those ids from the resources
themselves (``Stack.resolve`` turns a CloudFormation reference into the ``<LogicalId.Arn>`` form cdk-nag
prints), so a renamed construct moves its acknowledgement with it instead of leaving a stale string behind.

Every acknowledgement is also recorded as construct metadata (:func:`acknowledgements` reads them back).
With the context ``nag_acknowledge=false`` they are recorded but not applied, which is how the tests prove
that each one answers a finding cdk-nag really raises, and how a reviewer can see every finding at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

PACK = "AwsSolutions"
APPLY_CONTEXT = "nag_acknowledge"
METADATA_TYPE = "trackbridge:nag-acknowledgement"
MIN_REASON_LENGTH = 40


@dataclass(frozen=True, slots=True)
class Acknowledged:
    path: str
    rule: str
    reason: str


def _applied(scope: IConstruct) -> bool:
    value = scope.node.try_get_context(APPLY_CONTEXT)
    return value is None or str(value).strip().lower() not in {"false", "0", "no"}


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``AwsSolutions-<rule>`` (e.g. ``"L1"`` or ``"IAM5[Resource::*]"``) on ``scope``."""
    if len(reason) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledging {rule} needs a specific reason, got {reason!r}")
    rule_id = f"{PACK}-{rule}"
    scope.node.add_metadata(METADATA_TYPE, {"rule": rule_id, "reason": reason})
    if _applied(scope):
        Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def acknowledgements(root: IConstruct) -> list[Acknowledged]:
    """Every acknowledgement made through this module under ``root``."""
    found = []
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == METADATA_TYPE:
                found.append(Acknowledged(construct.node.path, entry.data["rule"], entry.data["reason"]))
    return found


def _nag_text(value: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag writes it in finding ids."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_nag_text(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as a cdk-nag resource pattern")


def wildcard_resource(scope: IConstruct, resource: str) -> str:
    """The ``Resource::...`` part of an IAM5 finding for ``resource`` (which may contain tokens)."""
    return "Resource::" + _nag_text(Stack.of(scope).resolve(resource))


def acknowledge_wildcard_resource(scope: IConstruct, resource: str, reason: str) -> None:
    acknowledge(scope, f"IAM5[{wildcard_resource(scope, resource)}]", reason)


__all__ = [
    "APPLY_CONTEXT",
    "Acknowledged",
    "acknowledge",
    "acknowledge_wildcard_resource",
    "acknowledgements",
    "wildcard_resource",
]
