"""The error tree every layer raises and the API maps to HTTP in one place.

::

    TrackbridgeError                 code, message, details, guidance, http status
    ├── InvalidInput                 400  malformed request (bad JSON, bad cursor)
    │   └── ValidationFailed         422  schema violation, with field paths in details
    ├── Unauthorized                 401  no or invalid API key
    ├── Forbidden                    403  authenticated but not allowed (never used to hide existence)
    ├── NotFound                     404  absent, or another tenant's (the two look the same)
    ├── Conflict                     409  a condition failed: already exists, a sync already running
    ├── PayloadTooLarge              413
    ├── RateLimited                  429  carries retry_after_s
    ├── UnsupportedCapability        422  the provider cannot do what was asked
    └── DependencyFailure            503  AWS or a tracker failed; retryable
"""

from __future__ import annotations

from typing import Any, ClassVar


class TrackbridgeError(Exception):
    """Base of every error trackbridge raises on purpose. Carries a canonical code and guidance."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL"

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
            self.code = code  # type: ignore[misc]

    def to_body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "details": self.details}
        if self.guidance:
            error["guidance"] = self.guidance
        return {"error": error}


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
]
