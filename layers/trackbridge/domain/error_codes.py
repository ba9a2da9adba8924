"""Canonical codes for every way a tracker call can fail, with what to do about each.

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
    }
)


def error_info(code: ErrorCode | str) -> ErrorCodeInfo:
    """The table row for ``code``; an unknown string falls back to ``UNKNOWN`` (stored logs outlive code)."""
    try:
        return ERROR_CODES[ErrorCode(code)]
    except ValueError:
        return ERROR_CODES[ErrorCode.UNKNOWN]


def is_retryable(code: ErrorCode | str) -> bool:
    return error_info(code).retryable


def guidance_for(code: ErrorCode | str) -> str:
    return error_info(code).guidance


__all__ = ["ERROR_CODES", "ErrorCode", "ErrorCodeInfo", "error_info", "guidance_for", "is_retryable"]
