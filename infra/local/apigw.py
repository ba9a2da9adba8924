"""A local API Gateway (REST API, Lambda proxy integration) in front of the handlers in ``functions/``.

It does what API Gateway does before and after a Lambda proxy integration, so the handlers see the same
events and clients see the same responses as on AWS: stage throttling, the 10 MB payload cap, resource
matching (the most specific resource wins; an unknown route is MISSING_AUTHENTICATION_TOKEN), the TOKEN
authorizer with its per-token decision cache and policy evaluation, the v1 proxy event, and the mapping
of handler failures to gateway responses (a Lambda error is a 502). Gateway responses use the bodies in
``infra.definition.GATEWAY_RESPONSES``.

The gateway is a plain WSGI app (``wsgi_app``) served by werkzeug's threaded server on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from werkzeug.datastructures import Headers
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.definition import (
    API_STAGE_NAME,
    API_THROTTLE_BURST,
    API_THROTTLE_RATE,
    AUTHORIZER_CACHE_TTL_S,
    BINARY_MEDIA_TYPES,
    GATEWAY_RESPONSES,
    ROUTES,
    RouteSpec,
)
from infra.local._serving import serve_in_thread, stop_serving
from infra.local.invoke import LocalFunctions
from infra.local.provision import MOTO_ACCOUNT_ID
from trackbridge.domain.errors import error_body

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_FUNCTION_ENVIRON_KEY = "trackbridge.function"
AUTHORIZER_FUNCTION = "authorizer"

# The x-amzn-ErrorType API Gateway sends with each gateway response.
_ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "THROTTLED": "TooManyRequestsException",
    "DEFAULT_5XX": "InternalServerErrorException",
}
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/x-www-form-urlencoded",
        "application/graphql",
    }
)


def gateway_response(kind: str, *, request_id: str, status: int | None = None) -> Response:
    """A gateway response in the API's error shape; ``status`` overrides the type's default."""
    default_status, code, message = GATEWAY_RESPONSES[kind]
    body = json.dumps(error_body(code, message))
    response = Response(body, status=status or default_status, content_type="application/json")
    response.headers["x-amzn-RequestId"] = request_id
    response.headers["x-amzn-ErrorType"] = _ERROR_TYPES.get(kind, "InternalServerErrorException")
    return response


# --------------------------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class _Resource:
    """One API Gateway resource (a path) with the methods defined on it."""

    path: str
    segments: tuple[str, ...]
    methods: dict[str, RouteSpec] = field(default_factory=dict)

    @property
    def specificity(self) -> tuple[int, ...]:
        # Per segment: a literal beats {param}, which beats {proxy+}; lower sorts first.
        return tuple(2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in self.segments)

    @property
    def resource_id(self) -> str:
        return hashlib.sha256(self.path.encode()).hexdigest()[:6]

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.startswith("{") and segment.endswith("+}"):
                rest = parts[index:]
                if not rest or rest == [""]:
                    return None
                params[segment[1:-2]] = "/".join(rest)
                return params
            if index >= len(parts):
                return None
            part = parts[index]
            if segment.startswith("{"):
                if not part:
                    return None
                params[segment[1:-1]] = part
            elif segment != part:
                return None
        return params if len(parts) == len(self.segments) else None

    def method(self, http_method: str) -> RouteSpec | None:
        # ANY covers every method a resource does not define itself, TRACE and made-up ones included: the
        # function then answers 405 for them, as the API does behind ANY.
        return self.methods.get(http_method) or self.methods.get("ANY")


def _resources(routes: Iterable[RouteSpec]) -> list[_Resource]:
    by_path: dict[str, _Resource] = {}
    for route in routes:
        resource = by_path.setdefault(
            route.path, _Resource(route.path, tuple(route.path.strip("/").split("/")))
        )
        resource.methods[route.method.upper()] = route
    return sorted(by_path.values(), key=lambda r: r.specificity)


# ------------------------------------------------------------------------------------------ authorizer


class AuthorizerFailure(Exception):
    """The authorizer crashed or answered something API Gateway cannot use (a 500 on AWS)."""


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(".".join(map(re.escape, p.split("?"))) for p in pattern.split("*")))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_allows(policy: Any, method_arn: str) -> bool:
    """IAM evaluation as API Gateway applies it to an authorizer policy: an explicit Deny wins."""
    if not isinstance(policy, Mapping) or "Statement" not in policy:
        raise AuthorizerFailure("authorizer returned no policyDocument.Statement")
    allowed = False
    for statement in _as_list(policy["Statement"]):
        if not isinstance(statement, Mapping):
            raise AuthorizerFailure("policy statement is not an object")
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        resources = [str(r) for r in _as_list(statement.get("Resource", []))]
        if not any(_wildcard(a.lower()).fullmatch("execute-api:invoke") for a in actions):
            continue
        if not any(_wildcard(r).fullmatch(method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def _authorizer_context(result: Mapping[str, Any]) -> dict[str, Any]:
    """``requestContext.authorizer``: principalId plus the context, whose values API Gateway stringifies."""
    context = result.get("context") or {}
    if not isinstance(context, Mapping):
        raise AuthorizerFailure("authorizer context is not an object")
    values: dict[str, Any] = {"principalId": str(result.get("principalId", ""))}
    for key, value in context.items():
        # API Gateway accepts only strings, numbers and booleans here and fails the request otherwise.
        if isinstance(value, bool):
            values[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            values[key] = str(value)
        else:
            raise AuthorizerFailure(f"authorizer context value for {key!r} must be a string, number or bool")
    return values


@dataclass
class _CachedDecision:
    expires_at: float
    policy: Any
    context: dict[str, Any]


class _TokenBucket:
    """Stage throttling: ``rate`` requests per second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


# ---------------------------------------------------------------------------------------------- events


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def _is_binary(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() in BINARY_MEDIA_TYPES


def _encode_body(data: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """As API Gateway with the stack's binary media types: those base64, text types as UTF-8 text."""
    if not data:
        return None, False
    if _is_binary(content_type):
        return base64.b64encode(data).decode("ascii"), True
    if _is_text(content_type):
        try:
            return data.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    # Neither text nor a binary media type: API Gateway would pass it as text and lose the bytes that are not
    # UTF-8. Base64 keeps them, so a local handler sees no worse than that (kept from before the list).
    return base64.b64encode(data).decode("ascii"), True


def _request_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def build_proxy_event(
    request: Request,
    *,
    resource: _Resource,
    path_parameters: Mapping[str, str],
    body: bytes,
    request_id: str,
    api_id: str,
    stage: str,
    authorizer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """A REST API (v1) Lambda proxy event for ``request``, as API Gateway sends it."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    source_ip = request.remote_addr or "127.0.0.1"
    host = request.host or "127.0.0.1"
    forwarded = {
        "X-Forwarded-For": f"{headers['X-Forwarded-For']}, {source_ip}"
        if "X-Forwarded-For" in headers
        else source_ip,
        "X-Forwarded-Proto": request.scheme,
        "X-Forwarded-Port": host.rpartition(":")[2] if ":" in host else "80",
    }
    for name, value in forwarded.items():
        headers[name] = value
        multi_headers[name] = [value]

    query = {key: values[-1] for key, values in request.args.lists()}
    multi_query = {key: list(values) for key, values in request.args.lists()}
    encoded_body, is_base64 = _encode_body(body, request.headers.get("Content-Type"))
    now = time.time()
    request_context: dict[str, Any] = {
        "accountId": MOTO_ACCOUNT_ID,
        "apiId": api_id,
        "resourceId": resource.resource_id,
        "resourcePath": resource.path,
        "httpMethod": request.method,
        "requestId": request_id,
        "extendedRequestId": request_id,
        "stage": stage,
        "path": request.path,
        "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "requestTime": _request_time(now),
        "requestTimeEpoch": int(now * 1000),
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0].split(":", 1)[0],
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": source_ip,
            "user": None,
            "userAgent": request.headers.get("User-Agent"),
            "userArn": None,
        },
    }
    if authorizer is not None:
        request_context["authorizer"] = dict(authorizer)
    return {
        "version": "1.0",
        "resource": resource.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": encoded_body,
        "isBase64Encoded": is_base64,
    }


class MalformedProxyResponse(Exception):
    """A handler answered something that is not a Lambda proxy response (a 502 on AWS)."""


def proxy_response(result: Any, *, request_id: str) -> Response:
    """Turn a handler's proxy response into HTTP, merging headers the way API Gateway does."""
    if not isinstance(result, Mapping):
        raise MalformedProxyResponse(f"handler returned {type(result).__name__}, not an object")
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError) as exc:
        raise MalformedProxyResponse("statusCode is not an integer") from exc
    if not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status} is not an HTTP status")
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise MalformedProxyResponse("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise MalformedProxyResponse("isBase64Encoded body is not base64") from exc
    else:
        payload = body.encode("utf-8")

    headers = Headers()
    multi = result.get("multiValueHeaders")
    single = result.get("headers")
    multi = {} if multi is None else multi
    single = {} if single is None else single
    if not isinstance(multi, Mapping) or not isinstance(single, Mapping):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    # Values in multiValueHeaders win over a header of the same name in headers.
    multi_names = {name.lower() for name in multi}
    for name, values in multi.items():
        for value in _as_list(values):
            headers.add(str(name), str(value))
    for name, value in single.items():
        if str(name).lower() not in multi_names:
            headers.add(str(name), str(value))
    if "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    headers["x-amzn-RequestId"] = request_id
    return Response(payload, status=status, headers=headers)


# --------------------------------------------------------------------------------------------- gateway


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            logger.warning("apigw.server " + message, *args)  # noqa: G003 - werkzeug passes a %-format


class LocalApiGateway:
    """API Gateway for ``infra.definition.ROUTES`` on 127.0.0.1, calling handlers through ``functions``."""

    def __init__(
        self,
        functions: LocalFunctions,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_id: str = "local",
        stage: str = API_STAGE_NAME,
        region: str = "us-east-1",
        routes: Iterable[RouteSpec] = ROUTES,
        authorizer_cache_ttl_s: float = AUTHORIZER_CACHE_TTL_S,
        throttle_rate: float = API_THROTTLE_RATE,
        throttle_burst: int = API_THROTTLE_BURST,
        max_body_bytes: int = MAX_BODY_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._functions = functions
        self._host, self._port = host, port
        self.api_id, self.stage, self.region = api_id, stage, region
        self._resources = _resources(routes)
        self._cache_ttl_s = authorizer_cache_ttl_s
        self._cache: dict[str, _CachedDecision] = {}
        self._cache_lock = threading.Lock()
        self._bucket = _TokenBucket(throttle_rate, throttle_burst, clock)
        self._max_body_bytes = max_body_bytes
        self._clock = clock
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("gateway is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/{API_STAGE_NAME}"

    def start(self) -> LocalApiGateway:
        self._server = make_server(
            self._host, self._port, self.wsgi_app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = serve_in_thread(self._server, "local-apigw")
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        stop_serving(server, thread)

    # -------------------------------------------------------------------------------------- request

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        response = self._handle(request, request_id)
        duration_ms = (time.perf_counter() - started) * 1000
        # The function that answered; none when the gateway did itself (404, 401, 403, 413, 429).
        function = environ.get(_FUNCTION_ENVIRON_KEY)
        logger.info(
            "apigw.request %s %s -> %s in %.0f ms (%s)",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            function or "gateway",
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round(duration_ms, 1),
                "function": function,
            },
        )
        return response(environ, start_response)

    def _handle(self, request: Request, request_id: str) -> Response:
        if not self._bucket.take():
            return gateway_response("THROTTLED", request_id=request_id)
        if (request.content_length or 0) > self._max_body_bytes:
            response = gateway_response("REQUEST_TOO_LARGE", request_id=request_id)
            # The body is left unread, so the connection cannot be reused.
            response.headers["Connection"] = "close"
            return response
        body = request.stream.read(self._max_body_bytes + 1)
        if len(body) > self._max_body_bytes:
            return gateway_response("REQUEST_TOO_LARGE", request_id=request_id)

        raw_path = request.environ.get("RAW_URI") or request.environ.get("PATH_INFO") or "/"
        parts = [unquote(part) for part in raw_path.split("?", 1)[0].split("/")[1:]]
        matched = next(((r, p) for r in self._resources if (p := r.match(parts)) is not None), None)
        route = matched[0].method(request.method) if matched else None
        if matched is None or route is None:
            return gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id=request_id)
        resource, path_parameters = matched

        authorizer: dict[str, Any] | None = None
        if route.authorized:
            decision = self._authorize(request, resource, request_id)
            if isinstance(decision, Response):
                return decision
            authorizer = decision

        event = build_proxy_event(
            request,
            resource=resource,
            path_parameters=path_parameters,
            body=body,
            request_id=request_id,
            api_id=self.api_id,
            stage=self.stage,
            authorizer=authorizer,
        )
        request.environ[_FUNCTION_ENVIRON_KEY] = route.function  # for the request log line only
        try:
            result = self._functions.invoke(route.function, event)
            return proxy_response(result, request_id=request_id)
        except Exception:
            # On AWS a function error or a malformed proxy response is a 502 to the client.
            logger.exception("apigw.integration_failed", extra={"function": route.function})
            return gateway_response("DEFAULT_5XX", request_id=request_id)

    def _method_arn(self, request: Request) -> str:
        path = request.path.lstrip("/")
        api = f"arn:aws:execute-api:{self.region}:{MOTO_ACCOUNT_ID}:{self.api_id}"
        return f"{api}/{self.stage}/{request.method}/{path}"

    def _authorize(self, request: Request, resource: _Resource, request_id: str) -> dict[str, Any] | Response:
        token = request.headers.get("Authorization")
        if not token:
            # API Gateway rejects a missing identity source without calling the authorizer.
            return gateway_response("UNAUTHORIZED", request_id=request_id)
        method_arn = self._method_arn(request)
        try:
            decision = self._decision(token, method_arn)
            if decision is None:
                return gateway_response("UNAUTHORIZED", request_id=request_id)
            if not policy_allows(decision.policy, method_arn):
                return gateway_response("ACCESS_DENIED", request_id=request_id)
        except AuthorizerFailure as exc:
            logger.error("apigw.authorizer_failed %s", exc, extra={"request_id": request_id})
            return gateway_response("DEFAULT_5XX", request_id=request_id, status=500)
        return decision.context

    def _decision(self, token: str, method_arn: str) -> _CachedDecision | None:
        """The authorizer's decision for ``token``: cached, or fresh; None means "Unauthorized"."""
        now = self._clock()
        with self._cache_lock:
            cached = self._cache.get(token)
            if cached is not None and cached.expires_at > now:
                return cached
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        try:
            result = self._functions.invoke(AUTHORIZER_FUNCTION, event)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return None
            # Never log the token: it is the tenant's API key.
            raise AuthorizerFailure(f"authorizer raised {type(exc).__name__}") from exc
        if not isinstance(result, Mapping):
            raise AuthorizerFailure("authorizer returned no object")
        decision = _CachedDecision(
            expires_at=now + self._cache_ttl_s,
            policy=result.get("policyDocument"),
            context=_authorizer_context(result),
        )
        if self._cache_ttl_s > 0:
            with self._cache_lock:
                # Drop expired decisions so the cache cannot grow with every token ever seen.
                for stale in [t for t, d in self._cache.items() if d.expires_at <= now]:
                    del self._cache[stale]
                self._cache[token] = decision
        return decision

    def clear_authorizer_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()


__all__ = [
    "MAX_BODY_BYTES",
    "AuthorizerFailure",
    "LocalApiGateway",
    "build_proxy_event",
    "gateway_response",
    "policy_allows",
    "proxy_response",
]
