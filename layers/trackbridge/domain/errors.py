"""The one error tree: every error trackbridge raises on purpose, and the one function that builds its body.

::

    TrackbridgeError                     code, message, details, guidance; http_status; to_body()
    ├── InvalidInput                400  malformed request (bad JSON, bad cursor, INVALID_JQL)
    │   └── ValidationFailed        422  schema violation, with field paths in details
    ├── Unauthorized                401  no or invalid API key
    ├── Forbidden                   403  authenticated but not allowed (never used to hide existence)
    ├── NotFound                    404  absent, or another tenant's (the two look the same)
    ├── Conflict                    409  a condition failed: ALREADY_EXISTS, VERSION_CONFLICT, SYNC_RUNNING
    ├── PayloadTooLarge             413
    ├── RateLimited                 429  carries retry_after_s
    ├── UnsupportedCapability       422  the provider cannot do what was asked
    ├── DependencyFailure           503  AWS or the OAuth server failed; retryable
    └── TrackerError                 *   a tracker call failed (``providers.errors``, its own subtree):
        ├── TrackerAccessError           AuthenticationError, PermissionDeniedError, AccountSuspendedError,
        │                                EgressDeniedError, TrackerMovedError: a person must act
        ├── NotFoundError, RateLimitedError, InvalidRequestError, ConflictError, TransientError,
        └── MalformedResponseError       status from the code's row in ``domain.error_codes`` (502 for a
                                         tracker refusing the connection's credentials, never 401)

Every ``code`` is a row of :mod:`trackbridge.domain.error_codes` (status, retryability, guidance); a test
scans the source for codes that are not. ``http_status`` is what the API answers: the class's ``status``
for trackbridge's own errors, the code's row for a ``TrackerError`` (whose ``status`` attribute is the
*tracker's* answer, kept under that name for its callers; read ``http_status`` when answering a client).

Catch ``TrackerError`` before ``TrackbridgeError`` where the two are handled differently (the sync engine
parks and retries tracker failures; it fails the operation on any other trackbridge error).

:func:`error_body` is the only builder of the public error shape ``{"error": {"code", "message",
"details", "guidance"?}}``: the API's error mapping (``runtime.api.errors``), bulk items, the webhook
function and the local gateway's answers (a refused API key included) all call it.
"""

from __future__ import annotations

from typing import Any, ClassVar


def error_body(code: str, message: str, details: Any = None, guidance: str | None = None) -> dict[str, Any]:
    """The public error body; ``guidance`` appears only when there is advice to give."""
    error: dict[str, Any] = {"code": str(code), "message": message, "details": details}
    if guidance:
        error["guidance"] = guidance
    return {"error": error}


class TrackbridgeError(Exception):
    """Root of every error trackbridge raises on purpose. Carries a canonical code and guidance."""

    # The HTTP status of trackbridge's own errors (a TrackerError's ``status`` is the tracker's answer).
    status: ClassVar[int] = 500
    code: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        guidance: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.guidance = guidance
        if code is not None:
            self.code = code

    @property
    def http_status(self) -> int:
        """The status trackbridge's API answers with for this error."""
        return self.status

    def to_body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details, self.guidance)


class InvalidInput(TrackbridgeError):
    status = 400
    code = "INVALID_INPUT"


class ValidationFailed(InvalidInput):
    status = 422
    code = "VALIDATION_FAILED"


class Unauthorized(TrackbridgeError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(TrackbridgeError):
    status = 403
    code = "FORBIDDEN"


class NotFound(TrackbridgeError):
    status = 404
    code = "NOT_FOUND"


class Conflict(TrackbridgeError):
    status = 409
    code = "CONFLICT"


class PayloadTooLarge(TrackbridgeError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(TrackbridgeError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after_s = retry_after_s


class UnsupportedCapability(TrackbridgeError):
    status = 422
    code = "UNSUPPORTED_CAPABILITY"


class DependencyFailure(TrackbridgeError):
    status = 503
    code = "DEPENDENCY_FAILURE"


__all__ = [
    "Conflict",
    "DependencyFailure",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "TrackbridgeError",
    "Unauthorized",
    "UnsupportedCapability",
    "ValidationFailed",
    "error_body",
]
