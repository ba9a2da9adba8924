"""Turn a failed HTTP exchange into one canonical error: errors are data, matched by a table.

Each adapter declares ``error_rules``: an ordered tuple of :class:`ErrorRule` (status set, optional text
to find in the tracker's message, optional predicate over the rate-limit headers). The first rule that
matches decides the code; :data:`GENERIC_RULES` (by status alone) close every table, and ``UNKNOWN`` is
what nothing matched. Tests drive the same tables with real error bodies from each tracker.

The tracker's own words become the message (GitHub ``Bad credentials``, GitLab ``404 Project Not Found``,
Jira ``errorMessages``), trimmed; field errors are pulled out of the three shapes trackers use (GitHub
``errors[]``, GitLab ``message: {field: [..]}``, Jira ``errors: {field: msg}``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from trackbridge.domain.error_codes import ErrorCode
from trackbridge.providers.errors import FieldError, TrackerError, make_error
from trackbridge.providers.ratelimit import RateLimitInfo

MAX_MESSAGE_CHARS = 500
SERVER_ERRORS = frozenset(s for s in range(500, 600) if s not in (501, 504))


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What a rule may look at: never the request headers, so a rule cannot leak a credential."""

    status: int
    message: str
    body: Any
    rate_limit: RateLimitInfo
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class ErrorRule:
    """``statuses`` empty means any status; ``contains`` is a case-insensitive substring of the message."""

    code: ErrorCode
    statuses: frozenset[int] = frozenset()
    contains: str | None = None
    when: Callable[[ErrorContext], bool] | None = None
    secondary: bool = False
    # Wait to report when the tracker sends no reset hint (GitHub: "wait at least one minute").
    default_wait_s: float | None = None
    guidance: str | None = None

    def matches(self, ctx: ErrorContext) -> bool:
        if self.statuses and ctx.status not in self.statuses:
            return False
        if self.contains is not None and self.contains.lower() not in ctx.message.lower():
            return False
        return self.when is None or self.when(ctx)


def _quota(ctx: ErrorContext) -> bool:
    return ctx.rate_limit.quota


GENERIC_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(ErrorCode.QUOTA_EXHAUSTED, frozenset({429}), when=_quota),
    ErrorRule(ErrorCode.RATE_LIMITED, frozenset({429})),
    ErrorRule(ErrorCode.AUTH_INVALID, frozenset({401})),
    ErrorRule(ErrorCode.SUSPENDED_PAYMENT, frozenset({402})),
    ErrorRule(ErrorCode.PERMISSION_DENIED, frozenset({403, 451})),
    ErrorRule(ErrorCode.NOT_FOUND, frozenset({404, 410})),
    ErrorRule(ErrorCode.TIMEOUT, frozenset({408, 504})),
    ErrorRule(ErrorCode.CONFLICT, frozenset({409, 412})),
    ErrorRule(ErrorCode.PAYLOAD_TOO_LARGE, frozenset({413})),
    ErrorRule(ErrorCode.INVALID_REQUEST, frozenset({400, 405, 411, 414, 415, 422})),
    ErrorRule(ErrorCode.PROVIDER_UNAVAILABLE, SERVER_ERRORS),
)


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"


def parse_body(response: httpx.Response) -> Any:
    """The JSON body, or ``None`` when the body is empty or not JSON (a proxy's HTML, GitLab's text 429)."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def extract_message(body: Any, text: str) -> str:
    """The tracker's own human-readable words, from whichever field it uses."""
    if isinstance(body, dict):
        parts: list[str] = []
        message = body.get("message")
        if isinstance(message, str):
            parts.append(message)
        elif isinstance(message, dict | list):
            parts.append("Validation failed")
        error_messages = body.get("errorMessages")
        if isinstance(error_messages, list):
            parts.extend(str(m) for m in error_messages if m)
        for key in ("error_description", "error"):
            value = body.get(key)
            if isinstance(value, str) and value and value not in parts:
                parts.append(value)
        errors = body.get("errors")
        if isinstance(errors, list) and not parts:
            parts.extend(str(e) for e in errors if isinstance(e, str))
        if not parts and isinstance(errors, dict) and errors:
            parts.append("Validation failed")
        if parts:
            return _trim("; ".join(parts))
    return _trim(text) if text.strip() else ""


def extract_field_errors(body: Any) -> list[FieldError]:
    if not isinstance(body, dict):
        return []
    found: list[FieldError] = []
    errors = body.get("errors")
    if isinstance(errors, list):  # GitHub: [{"resource", "field", "code", "message"?}], Redmine: ["..."]
        for item in errors:
            if isinstance(item, dict):
                field = str(item.get("field") or item.get("resource") or "")
                code = item.get("code")
                message = item.get("message") or (f"{code}" if code else "invalid")
                found.append(FieldError(field, str(message), str(code) if code else None))
            elif isinstance(item, str):
                found.append(FieldError("", item))
    elif isinstance(errors, dict):  # Jira: {"summary": "You must specify a summary of the issue."}
        found.extend(FieldError(str(k), str(v)) for k, v in errors.items())
    message = body.get("message")
    if isinstance(message, dict):  # GitLab: {"message": {"title": ["can't be blank"]}}
        for field, messages in message.items():
            text = "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
            found.append(FieldError(str(field), text))
    return found


def classify_status(
    *,
    provider: str,
    status: int,
    body: Any,
    text: str,
    rate_limit: RateLimitInfo,
    rules: Iterable[ErrorRule],
    method: str = "GET",
    now: datetime | None = None,
) -> TrackerError:
    """Pick the first matching rule (provider rules, then :data:`GENERIC_RULES`) and build its error."""
    message = extract_message(body, text) or f"HTTP {status}"
    ctx = ErrorContext(status=status, message=message, body=body, rate_limit=rate_limit, method=method)
    rule = next((r for r in (*rules, *GENERIC_RULES) if r.matches(ctx)), None)
    code = rule.code if rule else ErrorCode.UNKNOWN
    kwargs: dict[str, Any] = {"provider": provider, "status": status}
    if rule and rule.guidance:
        kwargs["guidance"] = rule.guidance
    if code in (ErrorCode.RATE_LIMITED, ErrorCode.QUOTA_EXHAUSTED):
        secondary = bool(rule and rule.secondary)
        wait: float | None
        if rate_limit.retry_after_s is not None:
            wait = rate_limit.retry_after_s  # the server's own word wins
        elif secondary and not rate_limit.exhausted:
            # A secondary limit is not the hourly window: its reset header says nothing about it.
            wait = rule.default_wait_s if rule else None
        else:
            wait = rate_limit.wait_s(now) if now else None
            if wait is None and rule is not None:
                wait = rule.default_wait_s
        kwargs["retry_after_s"] = wait
        # reset_at is when to come back: what the sync engine parks the slice until.
        kwargs["reset_at"] = (
            now + timedelta(seconds=wait) if now and wait is not None else rate_limit.reset_at
        )
        return make_error(code, message, secondary=secondary, **kwargs)
    if code is ErrorCode.INVALID_REQUEST:
        kwargs["field_errors"] = extract_field_errors(body)
    # Some trackers put Retry-After on a 503 too (Jira): carry it, the retry loop honours it.
    kwargs["retry_after_s"] = rate_limit.retry_after_s
    return make_error(code, message, **kwargs)


def classify_response(
    response: httpx.Response,
    *,
    provider: str,
    rate_limit: RateLimitInfo,
    rules: Sequence[ErrorRule] = (),
    now: datetime | None = None,
) -> TrackerError:
    return classify_status(
        provider=provider,
        status=response.status_code,
        body=parse_body(response),
        text=response.text if response.content else "",
        rate_limit=rate_limit,
        rules=rules,
        method=response.request.method,
        now=now,
    )


def classify_transport_error(exc: httpx.HTTPError, *, provider: str) -> TrackerError:
    """httpx's own failures: timeouts, refused or reset connections, undecodable bodies."""
    detail = str(exc) or type(exc).__name__
    message = _trim(f"{type(exc).__name__}: {detail}")
    if isinstance(exc, httpx.TimeoutException):
        code = ErrorCode.TIMEOUT
    elif isinstance(exc, httpx.UnsupportedProtocol):
        return make_error(
            ErrorCode.INVALID_REQUEST,
            message,
            provider=provider,
            guidance="The connection's base_url is not an http(s) URL: fix it on the connection.",
        )
    elif isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        code = ErrorCode.NETWORK_GLITCH
    elif isinstance(exc, httpx.DecodingError):
        code = ErrorCode.MALFORMED_RESPONSE
    else:
        code = ErrorCode.UNKNOWN
    return make_error(code, message, provider=provider)


def request_never_sent(exc: BaseException) -> bool:
    """True when the server cannot have seen the request, so even a POST is safe to send again."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def malformed(provider: str, what: str, *, status: int | None = None) -> TrackerError:
    return make_error(ErrorCode.MALFORMED_RESPONSE, _trim(what), provider=provider, status=status)


__all__ = [
    "GENERIC_RULES",
    "SERVER_ERRORS",
    "ErrorContext",
    "ErrorRule",
    "classify_response",
    "classify_status",
    "classify_transport_error",
    "extract_field_errors",
    "extract_message",
    "malformed",
    "parse_body",
    "request_never_sent",
]
