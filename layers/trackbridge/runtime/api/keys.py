"""``/v1/keys``: list and revoke the calling tenant's API keys (scope ``admin``; ``*`` includes it).

Keys are issued by ``trackbridge keys create`` (the first key of a tenant cannot come from the API), so
there is no POST. ``id`` is the ``<key_id>`` of ``tb_<key_id>_<secret>``; no response carries a secret or
its hash. Another tenant's key id is a 404, exactly like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Final

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from trackbridge.domain.api_keys import ADMIN_SCOPE, ApiKeyView
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE, Page
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.api_keys import ApiKeyService

# Runtime code does not import infra.definition; tests/integration/api/test_keys_api.py keeps this in step
# with AUTHORIZER_CACHE_TTL_S there.
AUTHORIZER_CACHE_TTL_S: Final = 60

REVOKE_DESCRIPTION: Final = (
    "Revokes one of the calling tenant's API keys; the calling key may revoke itself. The authorizer "
    "refuses the key from its next call on, but API Gateway caches each authorizer decision for "
    f"{AUTHORIZER_CACHE_TTL_S} s, so a client that used the key during the last {AUTHORIZER_CACHE_TTL_S} s "
    f"may go on being let in for up to {AUTHORIZER_CACHE_TTL_S} s after the revocation. The key stays listed "
    "with `revoked_at`. Idempotent: revoking a revoked key answers 204 again and changes nothing. A key id "
    "that is unknown or belongs to another tenant is a 404."
)

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Service = Annotated[ApiKeyService, Depends(container.api_key_service)]
KeyId = Annotated[
    str, Path(max_length=64, description="the <key_id> of tb_<key_id>_<secret>, e.g. abcdefghijklmnopqrst")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page")
]


@router.get(
    "/v1/keys",
    summary="List the tenant's API keys, revoked ones included",
    description="Each key's id (the `<key_id>` of `tb_<key_id>_<secret>`), scopes, creation, last use and "
    "revocation; never a secret or its hash.",
    operation_id="listApiKeys",
    tags=["keys"],
    openapi_extensions=requires(ADMIN_SCOPE),
)
def list_keys(
    caller: Caller, service: Service, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> Page[ApiKeyView]:
    caller.require(ADMIN_SCOPE)
    return service.list(caller.tenant, limit=limit, cursor=cursor)


@router.delete(
    "/v1/keys/<key_id>",
    summary="Revoke an API key",
    description=REVOKE_DESCRIPTION,
    operation_id="revokeApiKey",
    tags=["keys"],
    openapi_extensions=requires(ADMIN_SCOPE),
    responses={
        204: {"description": "revoked (or already revoked)"},
        403: {"description": "the calling key lacks the admin scope"},
        404: {"description": "the tenant has no key with this id"},
    },
)
def revoke_key(key_id: KeyId, caller: Caller, service: Service) -> Response[None]:
    caller.require(ADMIN_SCOPE)
    service.revoke(caller.tenant, key_id, caller.actor)
    return Response(status_code=204, body=None)


__all__ = ["AUTHORIZER_CACHE_TTL_S", "REVOKE_DESCRIPTION", "router"]
