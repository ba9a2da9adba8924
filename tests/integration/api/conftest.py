"""The API end to end on moto: a real key, the real authorizer, ``functions.api.handler`` with REST events.

``ApiClient`` does what API Gateway does per request: runs the authorizer on the bearer token and, when it
allows, passes its ``context`` on as ``requestContext.authorizer`` to the API function.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from functions.api import handler as api_handler
from functions.authorizer import handler as authorizer_handler
from infra.definition import ENV
from infra.local.provision import table_request
from tests.unit.api.support import FakeLambdaContext, rest_event
from trackbridge.runtime import container
from trackbridge.runtime.api.app import app
from trackbridge.runtime.api_keys import issue_api_key

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:localapi/v1/GET/v1/connections"


@dataclass
class Answer:
    status: int
    body: Any
    raw: dict[str, Any]


@dataclass
class ApiClient:
    shared_dir: Path
    token: str | None

    def authorize(self) -> dict[str, Any] | None:
        if self.token is None:
            return None
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {self.token}", "methodArn": METHOD_ARN}
        try:
            response = authorizer_handler(event, FakeLambdaContext(function_name="authorizer"))
        except Exception as exc:
            if str(exc) != "Unauthorized":
                raise
            return None
        return {**response["context"], "principalId": response["principalId"]}

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        request_id: str = "",
    ) -> Answer:
        authorizer = self.authorize()
        event = rest_event(
            self.shared_dir,
            method,
            path,
            body=body,
            query=query,
            tenant=None,  # no tenant unless the authorizer allowed: then its context is the authorizer
            authorizer=authorizer,
            request_id=request_id or f"req-{uuid.uuid4().hex[:8]}",
        )
        raw = api_handler(event, FakeLambdaContext())
        return Answer(raw["statusCode"], json.loads(raw["body"]) if raw.get("body") else None, raw)


@pytest.fixture(scope="module")
def stack(local_resources: LocalResources) -> Iterator[LocalResources]:
    """The session's resources with a DynamoDB table of this module's own, removed afterwards.

    On one shared table every test's items stayed for the session, and moto deep-copies a whole table for
    each transaction: a worker running the API tests grew by about 1 GB a minute and was killed for memory
    in a full run. A module's own table keeps both the copies and what outlives the module small.
    """
    name = local_resources.client("dynamodb").create_table(**table_request(f"api{uuid.uuid4().hex[:8]}"))[
        "TableDescription"
    ]["TableName"]
    previous = os.environ[ENV.table]
    os.environ[ENV.table] = name
    # Objects cached by earlier tests of this process may point elsewhere: start from this env.
    container.reset()
    try:
        yield dataclasses.replace(local_resources, table_name=name)
    finally:
        app.dependency_overrides.clear()
        os.environ[ENV.table] = previous
        container.reset()
        local_resources.client("dynamodb").delete_table(TableName=name)


@pytest.fixture
def tenant() -> str:
    return f"api-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def api(stack: LocalResources, shared_dir: Path, tenant: str) -> ApiClient:
    return ApiClient(shared_dir, issue_api_key(tenant))


@pytest.fixture
def other_api(stack: LocalResources, shared_dir: Path) -> ApiClient:
    return ApiClient(shared_dir, issue_api_key(f"other-{uuid.uuid4().hex[:12]}"))
