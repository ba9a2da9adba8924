"""The tracker branch of the one error tree (drawn whole in ``trackbridge.domain.errors``).

Adapters never let ``httpx`` exceptions or raw status codes escape: the base class classifies each failure
into a canonical :class:`~trackbridge.domain.error_codes.ErrorCode` and raises the matching subclass below,
always chained (``raise ... from exc``) so the original cause stays in tracebacks. Callers branch on the
class where they act differently, and read ``code`` where they only record.

``TrackerError`` is a ``TrackbridgeError``: code, message, guidance and ``http_status`` (from the code's row
in ``domain.error_codes``) like every other error, so the API maps both with one handler. Its ``status`` is
the tracker's own answer (``None`` when there was none), not trackbridge's; its body's ``details`` are the
provider, the tracker's status, ``retryable``, field errors and, when throttled, when to come back. Code
that treats tracker failures differently (the sync engine parks and retries them) catches ``TrackerError``
before ``TrackbridgeError``.

::

    TrackbridgeError (domain.errors)
    └── TrackerError                  code, retryable, guidance, status, provider, retry_after_s, reset_at,
        │                             field_errors; code UNKNOWN when nothing more precise fits
        ├── TrackerAccessError        a person must fix credentials, permissions or billing; never retried
        │   ├── AuthenticationError   AUTH_INVALID, AUTH_EXPIRED
        │   ├── PermissionDeniedError PERMISSION_DENIED
        │   ├── AccountSuspendedError SUSPENDED_PAYMENT
        │   ├── EgressDeniedError     EGRESS_DENIED: the address is not public (trackbridge's outbound policy)
        │   └── TrackerMovedError     TRACKER_MOVED: a redirect to another origin, not followed; ``location``
        ├── NotFoundError             NOT_FOUND (404, 410): the tombstone check relies on it
        ├── RateLimitedError          RATE_LIMITED, QUOTA_EXHAUSTED; reset_at, retry_after_s, secondary, quota
        │                             the sync engine parks the slice until ``reset_at`` instead of failing
        ├── InvalidRequestError       INVALID_REQUEST (field_errors), PAYLOAD_TOO_LARGE
        ├── ConflictError             CONFLICT
        ├── TransientError            NETWORK_GLITCH, TIMEOUT, PROVIDER_UNAVAILABLE: retried in-request
        └── MalformedResponseError    MALFORMED_RESPONSE: a 2xx whose body is not what the API documents

Messages come from the tracker's own error text (``Bad credentials``, ``404 Project Not Found``), never from
request headers, so a token cannot reach a message, a log line or an API response through this family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trackbridge.domain.error_codes import ErrorCode, error_info
from trackbridge.domain.errors import TrackbridgeError, error_body


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field the tracker refused, named as the tracker names it (``title``, ``customfield_10010``)."""

    field: str
    message: str
    code: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"field": self.field, "message": self.message, "code": self.code}


class TrackerError(TrackbridgeError):
    """A tracker call failed; ``code`` says how, ``guidance`` says what the person in charge should do."""

    code: ErrorCode
    # The tracker's own HTTP status (None when it never answered), unlike the ClassVar it shadows, which is
    # trackbridge's status for its own errors: every caller that answers a client reads ``http_status``.
    status: int | None  # type: ignore[misc,assignment]

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode = ErrorCode.UNKNOWN,
        provider: str = "",
        status: int | None = None,
        retryable: bool | None = None,
        guidance: str | None = None,
        retry_after_s: float | None = None,
        reset_at: datetime | None = None,
        field_errors: Sequence[FieldError] = (),
    ) -> None:
        info = error_info(code)
        super().__init__(message, guidance=guidance or info.guidance)
        self.code = ErrorCode(code)
        self.provider = provider
        self.status = status
        self.retryable = info.retryable if retryable is None else retryable
        self.retry_after_s = retry_after_s
        self.reset_at = reset_at
        self.field_errors: tuple[FieldError, ...] = tuple(field_errors)

    @property
    def http_status(self) -> int:
        """The status trackbridge's API answers with when a tracker action fails this way."""
        return error_info(self.code).http_status

    def retry_after(self, now: datetime) -> float | None:
        """Seconds until the tracker takes requests again, when it said (``Retry-After`` or a reset time)."""
        if self.retry_after_s is not None:
            return self.retry_after_s
        if self.reset_at is not None and isinstance(self, RateLimitedError):
            return max(0.0, (self.reset_at - now).total_seconds())
        return None

    def to_body(self, *, now: datetime | None = None) -> dict[str, Any]:
        """The API's error body: the tracker's message, the code's guidance, ``api_details`` as details."""
        wait = self.retry_after(now or datetime.now(UTC))
        return error_body(self.code, self.message, self.api_details(retry_after_s=wait), self.guidance)

    def api_details(self, *, retry_after_s: float | None = None) -> dict[str, Any]:
        """What the API's error body carries as ``details``: never a request header, so never a token."""
        details: dict[str, Any] = {
            "provider": self.provider,
            "tracker_status": self.status,
            "retryable": self.retryable,
            "field_errors": [f.to_dict() for f in self.field_errors],
        }
        if self.reset_at is not None:
            details["reset_at"] = self.reset_at.isoformat()
        if retry_after_s is not None:
            details["retry_after_s"] = retry_after_s
        return details

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for sync logs and API error details."""
        return {
            "code": str(self.code),
            "message": self.message,
            "provider": self.provider,
            "status": self.status,
            "retryable": self.retryable,
            "guidance": self.guidance,
            "retry_after_s": self.retry_after_s,
            "reset_at": self.reset_at.isoformat() if self.reset_at else None,
            "field_errors": [f.to_dict() for f in self.field_errors],
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!s}, provider={self.provider!r}, status={self.status})"


class TrackerAccessError(TrackerError):
    """The connection itself is unusable until a person acts (new token, more scopes, paid bill)."""


class AuthenticationError(TrackerAccessError):
    pass


class PermissionDeniedError(TrackerAccessError):
    pass


class AccountSuspendedError(TrackerAccessError):
    pass


class EgressDeniedError(TrackerAccessError):
    """trackbridge refused to connect: the tracker's address is not public and not allowlisted. Raised
    before any packet leaves (``providers.egress``); the message is trackbridge's own."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", ErrorCode.EGRESS_DENIED)
        super().__init__(message, **kwargs)


class TrackerMovedError(TrackerAccessError):
    """The tracker answered with a redirect to another origin; it was not followed, so the connection's
    credentials never left its origin. ``location`` is where it pointed (without query or userinfo)."""

    def __init__(self, message: str, *, location: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("code", ErrorCode.TRACKER_MOVED)
        super().__init__(message, **kwargs)
        self.location = location

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "location": self.location}


class NotFoundError(TrackerError):
    pass


class RateLimitedError(TrackerError):
    """Throttled. ``reset_at`` is when to try again; ``secondary`` marks GitHub's abuse-style limits,
    ``quota`` an hourly or points budget (code ``QUOTA_EXHAUSTED``) rather than a short burst limit."""

    def __init__(self, message: str, *, secondary: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("code", ErrorCode.RATE_LIMITED)
        super().__init__(message, **kwargs)
        self.secondary = secondary

    @property
    def quota(self) -> bool:
        return self.code is ErrorCode.QUOTA_EXHAUSTED

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "secondary": self.secondary, "quota": self.quota}


class InvalidRequestError(TrackerError):
    pass


class ConflictError(TrackerError):
    pass


class TransientError(TrackerError):
    pass


class MalformedResponseError(TrackerError):
    pass


_CLASS_BY_CODE: Mapping[ErrorCode, type[TrackerError]] = {
    ErrorCode.AUTH_INVALID: AuthenticationError,
    ErrorCode.AUTH_EXPIRED: AuthenticationError,
    ErrorCode.PERMISSION_DENIED: PermissionDeniedError,
    ErrorCode.SUSPENDED_PAYMENT: AccountSuspendedError,
    ErrorCode.NOT_FOUND: NotFoundError,
    ErrorCode.RATE_LIMITED: RateLimitedError,
    ErrorCode.QUOTA_EXHAUSTED: RateLimitedError,
    ErrorCode.INVALID_REQUEST: InvalidRequestError,
    ErrorCode.PAYLOAD_TOO_LARGE: InvalidRequestError,
    ErrorCode.CONFLICT: ConflictError,
    ErrorCode.NETWORK_GLITCH: TransientError,
    ErrorCode.TIMEOUT: TransientError,
    ErrorCode.PROVIDER_UNAVAILABLE: TransientError,
    ErrorCode.MALFORMED_RESPONSE: MalformedResponseError,
    ErrorCode.EGRESS_DENIED: EgressDeniedError,
    ErrorCode.TRACKER_MOVED: TrackerMovedError,
    ErrorCode.UNKNOWN: TrackerError,
}


def error_class_for(code: ErrorCode) -> type[TrackerError]:
    return _CLASS_BY_CODE[code]


def make_error(
    code: ErrorCode,
    message: str,
    *,
    secondary: bool = False,
    **kwargs: Any,
) -> TrackerError:
    """Build the subclass that matches ``code`` (the classifier's single way of making errors)."""
    cls = error_class_for(code)
    if issubclass(cls, RateLimitedError):
        return cls(message, code=code, secondary=secondary, **kwargs)
    return cls(message, code=code, **kwargs)


__all__ = [
    "AccountSuspendedError",
    "AuthenticationError",
    "ConflictError",
    "EgressDeniedError",
    "FieldError",
    "InvalidRequestError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "TrackerAccessError",
    "TrackerError",
    "TrackerMovedError",
    "TransientError",
    "error_class_for",
    "make_error",
]
