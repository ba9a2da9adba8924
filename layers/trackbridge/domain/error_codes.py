"""Canonical codes for every way a request or a tracker call can fail, with what to do about each.

A tracker failure has many faces (GitHub's ``403 Bad credentials``, GitLab's ``401 Unauthorized``, a Jira
site suspended for non-payment, a reset TCP connection). The adapters in ``trackbridge.providers`` fold
each into one :class:`ErrorCode`; the sync engine stores the code in sync logs, the back-off ladder reads
``retryable``, the API and operator alerts show ``guidance`` to the person who must act.

``retryable`` answers "can the *same* work succeed later without a person changing anything?". It is not
the in-request retry policy (the adapter retries only 5xx, timeouts and resets, and waits out short rate
limits): it tells the sync engine whether to re-enqueue a slice or to stop and alert.

``http_status`` is what trackbridge's own API answers when a tracker action fails this way: a failure of
the caller's request keeps the tracker's meaning (404, 409, 413, 422, 429), a failure of the connection's
credentials or of the tracker itself is the tracker's fault, not the caller's (502, 503, 504).

The table holds every code trackbridge answers or records, not only tracker ones: the codes of its own
errors (``domain.errors``: ``VALIDATION_FAILED``, ``VERSION_CONFLICT``, the ``OAUTH_*`` refusals...) and of
the answers built before any error object exists (``INVALID_JSON``, ``METHOD_NOT_ALLOWED``, a gateway's
``GATEWAY_ERROR``). :data:`TRACKER_CODES` are the ones a tracker failure can carry; a test scans the source
and fails on any code used anywhere that is not here. For trackbridge's own errors the class decides the
status (a ``ValidationFailed`` raised with ``code="AUTH_INVALID"`` is a 422): ``http_status`` is then what
the code answers when nothing more specific does. One family is derived rather than listed: ``OAUTH_`` plus
a tracker code is a failure of Jira's authorization server (:data:`CODE_FAMILIES`).

Pure stdlib: the domain layer imports nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class ErrorCode(StrEnum):
    AUTH_INVALID = "AUTH_INVALID"
    AUTH_EXPIRED = "AUTH_EXPIRED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    QUOTA_EXHAUSTED = "QUOTA_EXHAUSTED"
    SUSPENDED_PAYMENT = "SUSPENDED_PAYMENT"
    NETWORK_GLITCH = "NETWORK_GLITCH"
    TIMEOUT = "TIMEOUT"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    INVALID_REQUEST = "INVALID_REQUEST"
    CONFLICT = "CONFLICT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    MALFORMED_RESPONSE = "MALFORMED_RESPONSE"
    EGRESS_DENIED = "EGRESS_DENIED"
    TRACKER_MOVED = "TRACKER_MOVED"
    UNKNOWN = "UNKNOWN"
    # ---- trackbridge's own answers (the API, the authorizer, the gateway, the sync engine) ----
    INTERNAL = "INTERNAL"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_JSON = "INVALID_JSON"
    INVALID_BODY = "INVALID_BODY"
    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_JQL = "INVALID_JQL"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    CONCURRENT_CHANGE = "CONCURRENT_CHANGE"
    SYNC_RUNNING = "SYNC_RUNNING"
    NOT_CANCELLABLE = "NOT_CANCELLABLE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    UNSUPPORTED_CAPABILITY = "UNSUPPORTED_CAPABILITY"
    DEPENDENCY_FAILURE = "DEPENDENCY_FAILURE"
    CURSOR_KEY_UNAVAILABLE = "CURSOR_KEY_UNAVAILABLE"
    NOT_ATTEMPTED = "NOT_ATTEMPTED"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
    GATEWAY_ERROR = "GATEWAY_ERROR"
    OAUTH_NOT_CONFIGURED = "OAUTH_NOT_CONFIGURED"
    OAUTH_UNSUPPORTED_PROVIDER = "OAUTH_UNSUPPORTED_PROVIDER"
    OAUTH_CALLBACK_INCOMPLETE = "OAUTH_CALLBACK_INCOMPLETE"
    OAUTH_STATE_INVALID = "OAUTH_STATE_INVALID"
    OAUTH_STATE_EXPIRED = "OAUTH_STATE_EXPIRED"
    OAUTH_STATE_USED = "OAUTH_STATE_USED"
    OAUTH_NONCE_MISSING = "OAUTH_NONCE_MISSING"
    OAUTH_NONCE_MISMATCH = "OAUTH_NONCE_MISMATCH"
    OAUTH_DENIED = "OAUTH_DENIED"
    OAUTH_CODE_INVALID = "OAUTH_CODE_INVALID"
    OAUTH_SITE_NOT_GRANTED = "OAUTH_SITE_NOT_GRANTED"
    OAUTH_SITE_AMBIGUOUS = "OAUTH_SITE_AMBIGUOUS"


@dataclass(frozen=True, slots=True)
class ErrorCodeInfo:
    """What a code means for the engine (``retryable``), for a person (``guidance``) and for the API."""

    retryable: bool
    guidance: str
    http_status: int


ERROR_CODES: Mapping[ErrorCode, ErrorCodeInfo] = MappingProxyType(
    {
        ErrorCode.AUTH_INVALID: ErrorCodeInfo(
            False,
            "The tracker rejected the credentials: create a new token and update the connection.",
            502,
        ),
        ErrorCode.AUTH_EXPIRED: ErrorCodeInfo(
            False,
            "The token has expired: renew it (or re-authorize the app) and update the connection.",
            502,
        ),
        ErrorCode.PERMISSION_DENIED: ErrorCodeInfo(
            False,
            "The token is valid but lacks a permission or scope for this action: grant it on the tracker.",
            403,
        ),
        ErrorCode.NOT_FOUND: ErrorCodeInfo(
            False,
            "The tracker has no such item, or the token cannot see it: check the key, repository or project.",
            404,
        ),
        ErrorCode.RATE_LIMITED: ErrorCodeInfo(
            True,
            "The tracker is throttling requests: work resumes by itself after the reset time.",
            429,
        ),
        ErrorCode.QUOTA_EXHAUSTED: ErrorCodeInfo(
            True,
            "The token's API quota for this period is used up: work resumes after the reset; "
            "sync less often or give trackbridge its own token.",
            429,
        ),
        ErrorCode.SUSPENDED_PAYMENT: ErrorCodeInfo(
            False,
            "The tracker account or site is suspended (often unpaid): its administrator must restore it.",
            502,
        ),
        ErrorCode.NETWORK_GLITCH: ErrorCodeInfo(
            True,
            "The network connection to the tracker failed: usually brief, and retried automatically.",
            502,
        ),
        ErrorCode.TIMEOUT: ErrorCodeInfo(
            True,
            "The tracker did not answer in time: retried automatically; if it persists, check its status.",
            504,
        ),
        ErrorCode.PROVIDER_UNAVAILABLE: ErrorCodeInfo(
            True,
            "The tracker answered with a server error: retried automatically; check its status page.",
            503,
        ),
        ErrorCode.INVALID_REQUEST: ErrorCodeInfo(
            False,
            "The tracker refused the request as invalid: fix the fields named in the error details.",
            422,
        ),
        ErrorCode.CONFLICT: ErrorCodeInfo(
            False,
            "The item changed on the tracker meanwhile: reload it and apply the change again.",
            409,
        ),
        ErrorCode.PAYLOAD_TOO_LARGE: ErrorCodeInfo(
            False,
            "The tracker refused the request as too large: send a smaller body or attachment.",
            413,
        ),
        ErrorCode.MALFORMED_RESPONSE: ErrorCodeInfo(
            True,
            "The tracker sent an unreadable response (often a proxy or an outage): retried later.",
            502,
        ),
        # The outbound policy (domain.egress): the connection points at an address trackbridge never contacts.
        ErrorCode.EGRESS_DENIED: ErrorCodeInfo(
            False,
            "The tracker's address is loopback, link-local, private or otherwise not public, and "
            "trackbridge does not contact such addresses: use the tracker's public address, or have an "
            "operator allow its network in TB_ALLOWED_PRIVATE_NETWORKS "
            "(e.g. 10.0.0.0/8 or 10.1.2.3/32:8443).",
            422,
        ),
        # A redirect to another origin is never followed: the connection's credentials stay on its origin.
        ErrorCode.TRACKER_MOVED: ErrorCodeInfo(
            False,
            "The tracker redirected to another address, which trackbridge does not follow with the "
            "connection's credentials: if it moved, use the new address as the connection's base_url.",
            502,
        ),
        ErrorCode.UNKNOWN: ErrorCodeInfo(
            False,
            "An unexpected tracker error: see the details; report it if it repeats.",
            502,
        ),
        ErrorCode.INTERNAL: ErrorCodeInfo(
            False,
            "An unexpected error inside trackbridge: report it with details.correlation_id.",
            500,
        ),
        ErrorCode.INVALID_INPUT: ErrorCodeInfo(
            False,
            "The request is malformed: fix it as the message says and send it again.",
            400,
        ),
        ErrorCode.INVALID_JSON: ErrorCodeInfo(
            False,
            "The body is not valid JSON: send a JSON document (Content-Type: application/json).",
            400,
        ),
        ErrorCode.INVALID_BODY: ErrorCodeInfo(
            False,
            "The body cannot be read (bad base64, not UTF-8, a broken multipart): send it again intact.",
            400,
        ),
        ErrorCode.INVALID_CURSOR: ErrorCodeInfo(
            False,
            "The cursor is not one this listing handed out: start the listing again without it.",
            400,
        ),
        ErrorCode.INVALID_JQL: ErrorCodeInfo(
            False,
            "The JQL is not valid: fix the query as the message says.",
            400,
        ),
        ErrorCode.VALIDATION_FAILED: ErrorCodeInfo(
            False,
            "Fix the fields named in details.errors (each has a path and a message).",
            422,
        ),
        ErrorCode.UNAUTHORIZED: ErrorCodeInfo(
            False,
            "Send a valid API key: Authorization: Bearer tb_<key_id>_<secret>.",
            401,
        ),
        ErrorCode.FORBIDDEN: ErrorCodeInfo(
            False,
            "The API key lacks the scope named in details: use a key that has it.",
            403,
        ),
        ErrorCode.METHOD_NOT_ALLOWED: ErrorCodeInfo(
            False,
            "Use one of the methods in the Allow header.",
            405,
        ),
        ErrorCode.UNSUPPORTED_MEDIA_TYPE: ErrorCodeInfo(
            False,
            "Send the body as application/json.",
            415,
        ),
        ErrorCode.ALREADY_EXISTS: ErrorCodeInfo(
            False,
            "It exists already: use the existing one, or change the name or key.",
            409,
        ),
        ErrorCode.VERSION_CONFLICT: ErrorCodeInfo(
            False,
            "It changed meanwhile: read it again and retry the change.",
            409,
        ),
        ErrorCode.CONCURRENT_CHANGE: ErrorCodeInfo(
            True,
            "A concurrent change touched the same item: retry.",
            409,
        ),
        ErrorCode.SYNC_RUNNING: ErrorCodeInfo(
            True,
            "A sync of this connection is running: wait for it to finish or cancel it.",
            409,
        ),
        ErrorCode.NOT_CANCELLABLE: ErrorCodeInfo(
            False,
            "The operation has already ended: nothing to cancel.",
            409,
        ),
        ErrorCode.IDEMPOTENCY_KEY_REUSED: ErrorCodeInfo(
            False,
            "The Idempotency-Key was used with another request: use a new key for a new request.",
            422,
        ),
        ErrorCode.IDEMPOTENCY_IN_PROGRESS: ErrorCodeInfo(
            True,
            "The first request with this Idempotency-Key is still running: retry after it ends.",
            409,
        ),
        ErrorCode.UNSUPPORTED_CAPABILITY: ErrorCodeInfo(
            False,
            "The tracker cannot do this: see GET /v1/providers for what each tracker does.",
            422,
        ),
        ErrorCode.DEPENDENCY_FAILURE: ErrorCodeInfo(
            True,
            "A service trackbridge depends on failed: retry later.",
            503,
        ),
        ErrorCode.CURSOR_KEY_UNAVAILABLE: ErrorCodeInfo(
            True,
            "The key that seals listing cursors cannot be read: retry later; an operator should check it.",
            503,
        ),
        ErrorCode.NOT_ATTEMPTED: ErrorCodeInfo(
            True,
            "Nothing was sent for this item: send it again.",
            503,
        ),
        ErrorCode.NOT_IMPLEMENTED: ErrorCodeInfo(
            False,
            "This is not available in this version of trackbridge.",
            501,
        ),
        ErrorCode.GATEWAY_ERROR: ErrorCodeInfo(
            True,
            "The API is unavailable: try again.",
            502,
        ),
        ErrorCode.OAUTH_NOT_CONFIGURED: ErrorCodeInfo(
            False,
            "An operator must configure the Jira OAuth app (see details.secret_name).",
            503,
        ),
        ErrorCode.OAUTH_UNSUPPORTED_PROVIDER: ErrorCodeInfo(
            False,
            "OAuth 2.0 (3LO) is for Jira connections: use a Jira connection.",
            422,
        ),
        ErrorCode.OAUTH_CALLBACK_INCOMPLETE: ErrorCodeInfo(
            False,
            "The callback needs both code and state: start the authorization again.",
            400,
        ),
        ErrorCode.OAUTH_STATE_INVALID: ErrorCodeInfo(
            False,
            "The OAuth state is invalid: start the authorization again.",
            400,
        ),
        ErrorCode.OAUTH_STATE_EXPIRED: ErrorCodeInfo(
            False,
            "The authorization took too long: start it again.",
            400,
        ),
        ErrorCode.OAUTH_STATE_USED: ErrorCodeInfo(
            False,
            "This authorization was already completed or attempted: start a new one.",
            400,
        ),
        ErrorCode.OAUTH_NONCE_MISSING: ErrorCodeInfo(
            False,
            "Complete the authorization from the browser or script that started it.",
            400,
        ),
        ErrorCode.OAUTH_NONCE_MISMATCH: ErrorCodeInfo(
            False,
            "Complete the authorization from the browser or script that started it.",
            400,
        ),
        ErrorCode.OAUTH_DENIED: ErrorCodeInfo(
            False,
            "The authorization was not granted at Atlassian: start it again and allow access.",
            400,
        ),
        ErrorCode.OAUTH_CODE_INVALID: ErrorCodeInfo(
            False,
            "The authorization code is invalid, expired or used: start the authorization again.",
            400,
        ),
        ErrorCode.OAUTH_SITE_NOT_GRANTED: ErrorCodeInfo(
            False,
            "Authorize again and grant access to the connection's Jira site.",
            400,
        ),
        ErrorCode.OAUTH_SITE_AMBIGUOUS: ErrorCodeInfo(
            False,
            "Set the connection's base_url to the Jira site to use, then authorize again.",
            400,
        ),
    }
)

# The codes a tracker failure can carry (``providers.errors``: one TrackerError class per code).
TRACKER_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.AUTH_INVALID,
        ErrorCode.AUTH_EXPIRED,
        ErrorCode.PERMISSION_DENIED,
        ErrorCode.NOT_FOUND,
        ErrorCode.RATE_LIMITED,
        ErrorCode.QUOTA_EXHAUSTED,
        ErrorCode.SUSPENDED_PAYMENT,
        ErrorCode.NETWORK_GLITCH,
        ErrorCode.TIMEOUT,
        ErrorCode.PROVIDER_UNAVAILABLE,
        ErrorCode.INVALID_REQUEST,
        ErrorCode.CONFLICT,
        ErrorCode.PAYLOAD_TOO_LARGE,
        ErrorCode.MALFORMED_RESPONSE,
        ErrorCode.EGRESS_DENIED,
        ErrorCode.TRACKER_MOVED,
        ErrorCode.UNKNOWN,
    }
)

# The code an answer gets when only its status is known (an error the web framework raised itself).
GENERIC_CODES: Mapping[int, ErrorCode] = MappingProxyType(
    {
        400: ErrorCode.INVALID_INPUT,
        401: ErrorCode.UNAUTHORIZED,
        403: ErrorCode.FORBIDDEN,
        404: ErrorCode.NOT_FOUND,
        405: ErrorCode.METHOD_NOT_ALLOWED,
        409: ErrorCode.CONFLICT,
        413: ErrorCode.PAYLOAD_TOO_LARGE,
        415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        422: ErrorCode.VALIDATION_FAILED,
        429: ErrorCode.RATE_LIMITED,
        500: ErrorCode.INTERNAL,
        501: ErrorCode.NOT_IMPLEMENTED,
        502: ErrorCode.GATEWAY_ERROR,
        503: ErrorCode.DEPENDENCY_FAILURE,
        504: ErrorCode.TIMEOUT,
    }
)


def code_for_status(status: int) -> ErrorCode:
    """The generic code of an HTTP status: ``INVALID_INPUT`` for any other 4xx, ``INTERNAL`` for any 5xx."""
    return GENERIC_CODES.get(status, ErrorCode.INVALID_INPUT if 400 <= status < 500 else ErrorCode.INTERNAL)


# Codes made of a prefix and a tracker code, with the status they answer: ``OAUTH_TIMEOUT`` is Jira's
# authorization server timing out (``runtime.jira_oauth.api_error``), a dependency of the API, so a 503;
# retryability and guidance are the tracker code's.
CODE_FAMILIES: Mapping[str, int] = MappingProxyType({"OAUTH_": 503})


def is_registered(code: ErrorCode | str) -> bool:
    """Whether ``code`` is in the table, directly or as a family member (``OAUTH_`` + a tracker code)."""
    if code in ErrorCode.__members__.values():
        return True
    return any(
        str(code).startswith(prefix) and str(code)[len(prefix) :] in TRACKER_CODES for prefix in CODE_FAMILIES
    )


def error_info(code: ErrorCode | str) -> ErrorCodeInfo:
    """The table row for ``code``; an unknown string falls back to ``UNKNOWN`` (stored logs outlive code)."""
    try:
        return ERROR_CODES[ErrorCode(code)]
    except ValueError:
        pass
    for prefix, status in CODE_FAMILIES.items():
        inner = str(code)[len(prefix) :]
        if str(code).startswith(prefix) and inner in TRACKER_CODES:
            info = ERROR_CODES[ErrorCode(inner)]
            return ErrorCodeInfo(info.retryable, info.guidance, status)
    return ERROR_CODES[ErrorCode.UNKNOWN]


def is_retryable(code: ErrorCode | str) -> bool:
    return error_info(code).retryable


def guidance_for(code: ErrorCode | str) -> str:
    return error_info(code).guidance


__all__ = [
    "CODE_FAMILIES",
    "ERROR_CODES",
    "GENERIC_CODES",
    "TRACKER_CODES",
    "ErrorCode",
    "ErrorCodeInfo",
    "code_for_status",
    "error_info",
    "guidance_for",
    "is_registered",
    "is_retryable",
]
