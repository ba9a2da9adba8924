"""Secrets Manager access, scoped to the stage's ``trackbridge/{stage}/`` prefix.

The stack creates no secrets: the api function writes tracker credentials and webhook secrets when a
connection is created, so access is granted by name prefix. Secret ARNs end in a random six-character
suffix, which is why the resource is a ``prefix*`` pattern and not a list of ARNs.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.function import TrackbridgeFunction
from infra.constructs.nag import acknowledge_wildcard_resource
from infra.definition import secrets_prefix

READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
MANAGE_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:DeleteSecret",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:TagResource",
)
_REASON = (
    "Secrets are created at run time per connection under the stage's trackbridge/<stage>/ name prefix; "
    "the pattern is limited to that prefix (secret ARNs end in a random suffix)."
)


class SecretsScope:
    """Grants on the secrets of one stage; holds no resources of its own."""

    def __init__(self, scope: Construct, *, stage: str) -> None:
        self.prefix = secrets_prefix(stage)
        self.arn_pattern = Stack.of(scope).format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.prefix}*",
            # arn:<partition>:secretsmanager:<region>:<account>:secret:<name>
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

    def _grant(self, handler: TrackbridgeFunction, actions: tuple[str, ...]) -> iam.Grant:
        grant = iam.Grant.add_to_principal(
            grantee=handler.function, actions=list(actions), resource_arns=[self.arn_pattern]
        )
        acknowledge_wildcard_resource(handler, self.arn_pattern, _REASON)
        return grant

    def grant_read(self, handler: TrackbridgeFunction) -> iam.Grant:
        return self._grant(handler, READ_ACTIONS)

    def grant_manage(self, handler: TrackbridgeFunction) -> iam.Grant:
        return self._grant(handler, MANAGE_ACTIONS)


__all__ = ["MANAGE_ACTIONS", "READ_ACTIONS", "SecretsScope"]
