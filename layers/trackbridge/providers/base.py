"""The adapter protocol: a base class that owns the algorithms, and per-tracker variation as attributes.

A tracker adapter is mostly declarations (STYLE habit 3)::

    class GitHubAdapter(TrackerAdapter):
        name = "github"
        capabilities = Capabilities(transitions=True, repo_wide_comments=True, conditional_requests=True, ...)
        auth_scheme = BearerScheme()
        paginator = LinkHeaderPaginator()
        rate_limits = GitHubRateLimits()
        error_rules = GITHUB_ERROR_RULES
        signature_schemes = (HubSignature("X-Hub-Signature-256"),)

plus the operations, each a few lines that build a request and normalize the answer. Everything that must
behave the same for every tracker lives here, once:

- **one request algorithm** (:meth:`TrackerAdapter.request`): send; read the rate-limit headers into
  ``last_rate_limit``; classify any failure into the :mod:`~trackbridge.providers.errors` family; retry
  5xx, timeouts and resets with jittered backoff (idempotent requests only, or any request the server
  never received); wait out a rate limit in-process only when the wait is short (``RetryPolicy.max_wait_s``),
  else raise :class:`RateLimitedError` with ``reset_at`` so the sync engine parks the slice; never retry
  other 4xx. Requests, 304s, retries and waits are counted in ``stats``.
- **one page loop** (:meth:`TrackerAdapter.iter_pages`) over the declared paginator, with conditional
  requests (``If-None-Match``) against an :class:`~trackbridge.providers.etags.ETagCache` the caller owns.
- **test connection** as a template: the adapter lists its checks, the base runs them in order, turns
  every error into a failed check with guidance, and skips the rest once authentication has failed. A
  failed check says what failed in trackbridge's words (:func:`describe_failure`: the status and the
  code), never with the text of the server's reply: the server at a base URL may be anyone's.
- **the outbound policy** (:mod:`~trackbridge.providers.egress`): the client an adapter builds connects
  only to addresses the :class:`~trackbridge.domain.egress.EgressPolicy` allows (``egress=``, from the
  runtime's settings; without one, public addresses only), and a redirect is followed only on the API's
  own origin: one to another origin raises :class:`TrackerMovedError` naming it, so credentials (an
  ``Authorization`` or a ``PRIVATE-TOKEN`` header alike) never leave the origin they were made for.
- **webhooks, verify then parse**: :meth:`TrackerAdapter.verify_webhook` (on the class: raw bytes, constant
  time, any of several secrets) and :meth:`TrackerAdapter.parse_webhook`, which loads the body, takes the
  delivery id from ``webhook_delivery_headers`` and leaves the tracker only :meth:`read_webhook` to write;
  the result is a :class:`~trackbridge.providers.types.WebhookDelivery`, and a bad body is a 400
  (:class:`~trackbridge.providers.webhooks.WebhookPayloadError`), never a ``KeyError``.
- **one adapter, several threads** (bulk actions share one): ``stats`` counts under a lock, the ETag cache
  locks itself, and adapters keep no other per-call state on ``self`` (GitLab's learned keyset answer is
  asked for once, under its own lock).

Operations a tracker does not have raise the domain's ``UnsupportedCapability`` (HTTP 422) naming the
capability, so callers can also ask ``capabilities`` first. The clock, the sleep and the random source are
injectable: tests never sleep and never depend on the wall clock.
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, ClassVar, Self, TypeVar

import httpx

from trackbridge.domain.egress import EgressPolicy
from trackbridge.domain.error_codes import ErrorCode
from trackbridge.domain.errors import UnsupportedCapability, ValidationFailed
from trackbridge.domain.issues import Comment, Issue, Sprint, User, Worklog
from trackbridge.domain.trackers import TrackerSpec
from trackbridge.providers.auth import AuthScheme
from trackbridge.providers.classify import (
    ErrorRule,
    classify_response,
    classify_transport_error,
    malformed,
    parse_body,
    request_never_sent,
)
from trackbridge.providers.egress import Resolver, egress_client
from trackbridge.providers.errors import (
    EgressDeniedError,
    NotFoundError,
    RateLimitedError,
    TrackerError,
    TrackerMovedError,
    TransientError,
)
from trackbridge.providers.etags import CachedPage, ConditionalCache
from trackbridge.providers.pagination import LinkHeaderPaginator, PageCursor, PageRequest, Paginator
from trackbridge.providers.ratelimit import NoRateLimitHeaders, RateLimitInfo, RateLimitReader
from trackbridge.providers.retry import IDEMPOTENT_METHODS, RetryPolicy
from trackbridge.providers.signatures import SignatureScheme, verify_any
from trackbridge.providers.types import (
    Attachment,
    Capabilities,
    CommentPage,
    ConnectionCheck,
    ConnectionReport,
    IssueChanges,
    IssueDraft,
    IssuePage,
    Page,
    RequestStats,
    TrackerConfig,
    Transition,
    WebhookDelivery,
    WebhookRegistration,
)
from trackbridge.providers.webhooks import delivery_id, load_object, payload_errors

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0, pool=10.0)
USER_AGENT = "trackbridge/0.1 (+https://github.com/trackbridge)"
# Same-origin redirects followed for one request (GitHub: a transferred issue, a renamed repository).
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """One raw page: the request that fetched it, its decoded body (``None`` on a 304) and what follows."""

    request: PageRequest
    body: Any
    next_cursor: PageCursor | None
    not_modified: bool = False


def _origin_of(url: httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) with the default port filled in: ``https://h`` and ``https://h:443`` agree."""
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _shown_location(url: httpx.URL) -> str:
    """Where a redirect pointed, for a message: scheme, host, port and path (no userinfo, no query)."""
    path = url.path if len(url.path) <= 200 else url.path[:199] + "…"
    return str(url.copy_with(userinfo=b"", query=None, fragment=None, path=path))


def describe_failure(error: TrackerError) -> str:
    """A failed step in trackbridge's own words: what happened, the HTTP status, the code.

    Connection checks say this instead of ``error.message``, which may quote the server's reply: the server
    behind a base URL is whoever the connection points at. The outbound policy's own refusals
    (:class:`EgressDeniedError`, :class:`TrackerMovedError`) are written by trackbridge and kept.
    """
    if isinstance(error, EgressDeniedError | TrackerMovedError):
        return error.message
    if error.status is not None:
        return f"the tracker answered HTTP {error.status} ({error.code})"
    if error.code is ErrorCode.MALFORMED_RESPONSE:
        return f"the tracker's answer is not what its API documents ({error.code})"
    cause = type(error.__cause__).__name__ if error.__cause__ is not None else None
    return f"no usable answer from the tracker ({error.code}{f': {cause}' if cause else ''})"


# One connection check: a name and a callable that returns the check (or raises a TrackerError).
CheckStep = tuple[str, Callable[[], ConnectionCheck]]


class TrackerAdapter(ABC):
    # ---- declared per tracker --------------------------------------------------------------------
    # The tracker's declaration (trackbridge.domain.trackers): the adapter names it, and the attributes
    # below that it already says are taken from it when the class is defined (__init_subclass__).
    tracker: ClassVar[TrackerSpec]
    name: ClassVar[str]  # from the declaration
    display_name: ClassVar[str]  # from the declaration
    capabilities: ClassVar[Capabilities] = Capabilities()
    auth_scheme: ClassVar[AuthScheme]
    # Which keys of the connection's scope this tracker reads ("repo", "project", "jql"...): from the
    # declaration's scope rule.
    scope_keys: ClassVar[tuple[str, ...]]
    default_base_url: ClassVar[str | None]  # from the declaration
    page_size: ClassVar[int] = 100
    # Requests an issue listing makes once, before its first page (Azure DevOps: the WIQL query that
    # returns the ids the pages then fetch). Part of the floor: the contract suite and the benchmark add it.
    listing_setup_requests: ClassVar[int] = 0
    paginator: ClassVar[Paginator] = LinkHeaderPaginator()
    rate_limits: ClassVar[RateLimitReader] = NoRateLimitHeaders()
    error_rules: ClassVar[tuple[ErrorRule, ...]] = ()
    signature_schemes: ClassVar[tuple[SignatureScheme, ...]] = ()
    # How the tracker authenticates deliveries to hooks an OAuth app registered (with the app's client
    # secret, not a per-connection one); empty: such hooks do not exist or are signed as above.
    app_signature_schemes: ClassVar[tuple[SignatureScheme, ...]] = ()
    default_headers: ClassVar[Mapping[str, str]] = {}
    # How far back an incremental pass should reach before the stored high-water mark (DESIGN section 10):
    # covers the tracker's timestamp precision and lazy updated_at bumps. From the declaration, which says
    # why; the sync engine reads it here.
    incremental_overlap: ClassVar[timedelta]
    # Upper bound on pages in one listing: every loop stops by itself, even against a broken tracker.
    max_pages: ClassVar[int] = 10_000

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec: TrackerSpec | None = cls.__dict__.get("tracker")
        if spec is not None:
            cls.name = spec.name
            cls.display_name = spec.display_name
            cls.scope_keys = spec.scope.keys
            cls.default_base_url = spec.default_base_url
            cls.incremental_overlap = spec.incremental_overlap

    def __init__(
        self,
        config: TrackerConfig,
        auth: httpx.Auth,
        *,
        client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        etag_cache: ConditionalCache | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        timeout: httpx.Timeout | float | None = None,
        egress: EgressPolicy | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        """``client``: a client the caller owns (and whose transport is the caller's policy); otherwise the
        adapter builds one that connects only where ``egress`` allows (default: public addresses only),
        resolving names with ``resolver`` (default: the system's)."""
        self.config = config
        api = httpx.URL(self.api_base)
        if api.scheme not in ("http", "https") or not api.host:
            raise ValidationFailed(
                f"{self.name}: base_url must be an absolute http(s) URL",
                details={"base_url": config.base_url},
            )
        self._origin = _origin_of(api)
        self._auth = auth
        self._owns_client = client is None
        # Redirects are followed by `_send`, on the API's origin only.
        self.client = client or egress_client(
            egress if egress is not None else EgressPolicy(),
            resolver=resolver,
            provider=self.name,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        )
        self.retry = retry or RetryPolicy()
        self.etag_cache = etag_cache
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep or time.sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.stats = RequestStats()
        self.last_rate_limit: RateLimitInfo | None = None
        # Who the credentials belong to, once a connection check has asked the tracker.
        self._identity: str | None = None

    # ---- lifecycle and description ---------------------------------------------------------------
    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r}, scope={dict(self.config.scope)!r})"

    @property
    def api_base(self) -> str:
        """Root that relative API paths hang from; trackers whose API lives under a prefix override it."""
        return self.config.base_url.rstrip("/")

    @property
    def connection_id(self) -> str:
        return self.config.connection_id

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What ``GET /v1/providers`` shows for this tracker."""
        return {
            "name": cls.name,
            "display_name": cls.display_name,
            "capabilities": cls.capabilities.advertised(),
            "scope_keys": list(cls.scope_keys),
            "credential_keys": list(cls.auth_scheme.keys),
            "default_base_url": cls.default_base_url,
            "page_size": cls.page_size,
            "incremental_overlap_s": cls.incremental_overlap.total_seconds(),
            "webhook_signatures": [s.name for s in cls.signature_schemes],
            "incremental_overlap_reason": cls.tracker.overlap_reason,
            "auth_modes": list(cls.tracker.auth_modes),
            "entities": list(cls.tracker.entities),
        }

    # ---- webhooks: verify, then parse -----------------------------------------------------------
    # Headers that carry the tracker's delivery id (stable across its retries), most specific first; then
    # ids that several deliveries may share, used with the body's digest when none of the first is there.
    webhook_delivery_headers: ClassVar[tuple[str, ...]] = ()
    webhook_shared_id_headers: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def verify_webhook(
        cls,
        headers: Mapping[str, str],
        raw_body: bytes,
        secrets: Sequence[str],
        *,
        now: float | None = None,
    ) -> bool:
        """True when a delivery is signed by one of ``secrets`` under one of this tracker's schemes.

        Over the raw body bytes, in constant time, every secret tried (a rotation accepts old and new);
        no secret refuses everything. Needs no connection: the webhook Lambda calls it on the class.
        """
        return verify_any(cls.signature_schemes, raw_body, headers, secrets, now=now)

    @classmethod
    def verify_app_webhook(
        cls,
        headers: Mapping[str, str],
        raw_body: bytes,
        app_secrets: Sequence[str],
        *,
        now: float | None = None,
    ) -> bool:
        """True when a delivery to a hook an OAuth app registered is authenticated by the app's secret."""
        return bool(cls.app_signature_schemes) and verify_any(
            cls.app_signature_schemes, raw_body, headers, app_secrets, now=now
        )

    def parse_webhook(self, headers: Mapping[str, str], raw_body: bytes) -> WebhookDelivery:
        """A verified delivery as changes to apply, a ``ping``, or ``ignored`` (an event not synced).

        Each change carries the item normalized exactly as a sync normalizes it (the same content hash)
        when the payload holds every field of the record, else ``None`` for the caller to fetch. A body
        that is not JSON or not the documented shape raises
        :class:`~trackbridge.providers.webhooks.WebhookPayloadError` (400), never ``KeyError``.
        """
        payload = load_object(raw_body, provider=self.name)
        delivery = self.webhook_delivery_id(headers, raw_body)
        with payload_errors(self.name, "webhook"):
            return self.read_webhook(headers, payload, delivery)

    def webhook_delivery_id(self, headers: Mapping[str, str], raw_body: bytes) -> str:
        return delivery_id(headers, raw_body, self.webhook_delivery_headers, self.webhook_shared_id_headers)

    @abstractmethod
    def read_webhook(
        self, headers: Mapping[str, str], payload: Mapping[str, Any], delivery_id: str
    ) -> WebhookDelivery:
        """The tracker's part of :meth:`parse_webhook`: ``payload`` is the body's JSON object. A missing
        or mistyped field may raise ``KeyError``/``TypeError``/``ValueError``: the base reports it as a
        payload error."""

    def now(self) -> datetime:
        return self._clock()

    # ---- the request algorithm -------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL for ``path``. Absolute URLs (Link headers, stored cursors) must stay on the API's
        origin: the credentials go wherever the request goes, so a foreign host is refused."""
        if path.startswith(("http://", "https://")):
            target = httpx.URL(path)
            if _origin_of(target) != self._origin:
                raise malformed(
                    self.name, f"refusing to follow a URL off the tracker's origin: {target.host}"
                )
            return path
        return f"{self.api_base}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        etag: str | None = None,
    ) -> httpx.Response:
        """Send one logical request; returns a 2xx response, or a 304 when ``etag`` was sent and matched.

        ``idempotent`` overrides the method's default (GET/PUT/DELETE yes, POST/PATCH no) for writes that
        are safe to repeat. Raises a :class:`TrackerError` subclass for every failure.
        """
        method = method.upper()
        safe_to_repeat = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = self.url(path)
        send_headers = {"User-Agent": USER_AGENT, **self.default_headers, **(headers or {})}
        if etag:
            send_headers["If-None-Match"] = etag
        transient_failures = 0
        rate_limit_waits = 0
        for _ in range(self.retry.bound):
            self.stats.add(requests=1)
            try:
                response = self._send(
                    self.client.build_request(
                        method,
                        url,
                        params=params,
                        json=json,
                        data=data,
                        files=files,
                        content=content,
                        headers=send_headers,
                    )
                )
            except httpx.HTTPError as exc:
                error = classify_transport_error(exc, provider=self.name)
                if (
                    isinstance(error, TransientError)
                    and transient_failures + 1 < self.retry.max_attempts
                    and (safe_to_repeat or request_never_sent(exc))
                ):
                    transient_failures += 1
                    self._pause(self.retry.backoff_s(transient_failures, self._rng), method, path, error)
                    continue
                raise error from exc
            now = self.now()
            info = self.rate_limits.read(response.headers, now)
            self.last_rate_limit = info
            if response.status_code == 304 and etag:
                self.stats.add(not_modified=1)
                return response
            if response.is_success:
                return response
            error = classify_response(
                response, provider=self.name, rate_limit=info, rules=self.error_rules, now=now
            )
            if isinstance(error, RateLimitedError):
                wait = error.retry_after_s
                if wait is None:
                    wait = self.retry.unhinted_rate_limit_wait_s
                if wait <= self.retry.max_wait_s and rate_limit_waits < self.retry.max_rate_limit_waits:
                    rate_limit_waits += 1
                    self.stats.add(rate_limit_waits=1)
                    self._pause(self.retry.rate_limit_sleep_s(wait, self._rng), method, path, error)
                    continue
                raise error
            if (
                isinstance(error, TransientError)
                and safe_to_repeat
                and transient_failures + 1 < self.retry.max_attempts
                # A 503 may say how long the outage lasts; beyond the cap the caller reschedules instead.
                and (error.retry_after_s or 0.0) <= self.retry.max_wait_s
            ):
                transient_failures += 1
                delay = max(self.retry.backoff_s(transient_failures, self._rng), error.retry_after_s or 0.0)
                self._pause(delay, method, path, error)
                continue
            raise error
        # Unreachable by construction: every `continue` spends one of two bounded budgets whose sum is
        # below `bound`. Kept so the function provably ends with an error, never with None.
        raise TrackerError(
            f"gave up after {self.retry.bound} attempts", code=ErrorCode.UNKNOWN, provider=self.name
        )

    def _send(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, following redirects on the API's origin only (at most ``MAX_REDIRECTS``).

        httpx would follow a redirect to another host too, dropping only ``Authorization``: a GitLab
        ``PRIVATE-TOKEN`` would go along. Here a redirect off the origin is not sent at all.
        """
        response = self.client.send(request, auth=self._auth, follow_redirects=False)
        for _ in range(MAX_REDIRECTS):
            follow = response.next_request  # set by httpx for a 301/302/303/307/308 with a Location
            if follow is None:
                return response
            response.close()
            if _origin_of(follow.url) != self._origin:
                where = _shown_location(follow.url)
                raise TrackerMovedError(
                    f"the tracker answered HTTP {response.status_code} redirecting to {where}, another "
                    "origin: not followed, so the connection's credentials stay on "
                    f"{self._origin[0]}://{self._origin[1]}:{self._origin[2]}",
                    provider=self.name,
                    status=response.status_code,
                    location=where,
                )
            response = self.client.send(follow, auth=self._auth, follow_redirects=False)
        response.close()
        raise malformed(self.name, f"more than {MAX_REDIRECTS} redirects", status=response.status_code)

    def _pause(self, seconds: float, method: str, path: str, error: TrackerError) -> None:
        self.stats.add(retries=1, waited_s=seconds)
        logger.info(
            "tracker.retry",
            extra={
                "provider": self.name,
                "method": method,
                # The path only: query strings are not secret here, but they are noise in logs.
                "path": httpx.URL(self.url(path)).path,
                "code": str(error.code),
                "status": error.status,
                "wait_s": round(seconds, 3),
            },
        )
        self._sleep(seconds)

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body of a successful response; anything else is ``MALFORMED_RESPONSE``."""
        if response.status_code == 204 or not response.content:
            return None
        body = parse_body(response)
        if body is None:
            raise malformed(
                self.name,
                f"expected JSON from {response.request.method} {response.request.url.path}",
                status=response.status_code,
            )
        return body

    def get_json(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        return self.decode(self.request("GET", path, params=params))

    def send_json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        return self.decode(self.request(method, path, json=json, params=params, idempotent=idempotent))

    def expect_dict(self, body: Any, what: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise malformed(self.name, f"expected an object for {what}, got {type(body).__name__}")
        return body

    def expect_list(self, body: Any, what: str) -> list[Any]:
        if not isinstance(body, list):
            raise malformed(self.name, f"expected an array for {what}, got {type(body).__name__}")
        return body

    def normalize(self, what: str, build: Callable[[], _T]) -> _T:
        """Run a normalizer; a missing or mistyped field in the tracker's answer is ``MALFORMED_RESPONSE``."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise malformed(self.name, f"unexpected {what} shape: {type(exc).__name__}: {exc}") from exc

    # ---- the page loop ---------------------------------------------------------------------------
    def iter_pages(
        self,
        request: PageRequest,
        *,
        cursor: PageCursor | None = None,
        conditional: bool = False,
        paginator: Paginator | None = None,
    ) -> Iterator[FetchedPage]:
        """Yield raw pages until the paginator finds no next one (bounded by ``max_pages``).

        With ``conditional`` (and an ETag cache, and a tracker that supports it), each page is requested
        with the ETag stored for its URL; a 304 yields ``not_modified`` and continues from the cursor that
        was stored with the ETag.
        """
        pager = paginator or self.paginator
        if cursor is not None:
            request = pager.apply(request, cursor)
        cache = self.etag_cache if conditional and self.capabilities.conditional_requests else None
        seen: set[PageCursor] = set()
        for _ in range(self.max_pages):
            key = self._cache_key(request) if cache is not None else ""
            cached = cache.get(key) if cache is not None else None
            response = self.request(
                request.method,
                request.url,
                params=request.params or None,
                json=request.json,
                etag=cached.etag if cached else None,
                idempotent=True,  # a listing is a read, even when a tracker wants it as a POST
            )
            if response.status_code == 304 and cached is not None:
                page = FetchedPage(request, None, cached.next_cursor, not_modified=True)
            else:
                body = self.decode(response)
                next_cursor = pager.next_cursor(request, response, body)
                etag_value = response.headers.get("etag")
                if cache is not None and etag_value:
                    cache.put(key, CachedPage(etag_value, next_cursor))
                page = FetchedPage(request, body, next_cursor)
            yield page
            if page.next_cursor is None:
                return
            if page.next_cursor in seen:
                raise malformed(self.name, "pagination did not advance: the tracker repeated a page cursor")
            seen.add(page.next_cursor)
            request = pager.apply(request, page.next_cursor)
        raise malformed(self.name, f"listing did not end after {self.max_pages} pages")

    def _cache_key(self, request: PageRequest) -> str:
        # The full URL as sent: a Link URL already carries its query, a first page adds its params.
        url = httpx.URL(self.url(request.url))
        return str(url.copy_merge_params(dict(request.params)) if request.params else url)

    def collect(self, request: PageRequest, *, paginator: Paginator | None = None) -> list[Any]:
        """Every item of a listing whose pages are JSON arrays."""
        items: list[Any] = []
        for page in self.iter_pages(request, paginator=paginator):
            items.extend(self.expect_list(page.body, request.url))
        return items

    def collect_until(
        self, request: PageRequest, limit: int, items_of: Callable[[Any], Iterable[_T]]
    ) -> list[_T]:
        """The first ``limit`` items of a listing (a search): ``items_of`` reads one page's body, and no
        page is fetched once ``limit`` items are in hand."""
        found: list[_T] = []
        for page in self.iter_pages(request):
            found.extend(items_of(page.body))
            if len(found) >= limit:
                break
        return found[:limit]

    def normalized_page(
        self,
        page: FetchedPage,
        what: str,
        normalize: Callable[[Any], _T],
        *,
        skip: Callable[[Any], bool] | None = None,
    ) -> Page[_T]:
        """A raw page whose body is a JSON array as a :class:`Page`: a 304 stays an empty ``not_modified``
        page, and items ``skip`` picks out (GitHub's pull requests) are counted in ``skipped``."""
        if page.not_modified:
            return Page((), 0, page.next_cursor, not_modified=True)
        raw_items = self.expect_list(page.body, what)
        items = tuple(normalize(r) for r in raw_items if skip is None or not skip(r))
        return Page(items, len(raw_items), page.next_cursor, skipped=len(raw_items) - len(items))

    def delete_if_present(self, path: str) -> None:
        """DELETE ``path``; a 404 means it is already gone, which is the outcome the caller wants."""
        try:
            self.request("DELETE", path)
        except NotFoundError:
            return

    # ---- connection test (template) --------------------------------------------------------------
    def test_connection(self) -> ConnectionReport:
        """Run :meth:`connection_checks` in order; a failure becomes a check with guidance, not an error.

        The first step is authentication: when it fails, the others are reported as skipped rather than
        run, since every one of them would fail the same way.
        """
        checks: list[ConnectionCheck] = []
        auth_failed = False
        for name, step in self.connection_checks():
            if auth_failed:
                checks.append(ConnectionCheck(name, False, "skipped: authentication failed"))
                continue
            try:
                check = step()
            except TrackerError as exc:
                check = ConnectionCheck(name, False, describe_failure(exc), exc.guidance, exc.code)
            checks.append(check)
            if name == "auth" and not check.ok:
                auth_failed = True
        return ConnectionReport(self.name, tuple(checks), identity=self._identity)

    @abstractmethod
    def connection_checks(self) -> Sequence[CheckStep]:
        """Ordered steps, the first named ``auth``; a step may set ``self._identity`` (the token's user)."""

    # ---- operations every tracker has ------------------------------------------------------------
    @abstractmethod
    def normalize_issue(self, raw: Mapping[str, Any]) -> Issue:
        """The tracker's issue JSON (REST shape) as a domain Issue with its content hash."""

    @abstractmethod
    def iter_issue_pages(
        self, *, since: datetime | None = None, include_closed: bool = True, cursor: PageCursor | None = None
    ) -> Iterator[IssuePage]:
        """Issues page by page: with ``since``, those updated at or after it in update order; without, all
        of them in an order updates cannot change. Pass the same ``since``/``include_closed`` with a
        ``cursor`` taken from a previous page to resume."""

    @abstractmethod
    def get_issue(self, key: str) -> Issue:
        """One issue by its key (``#12``, ``12``, ``OPS-12``); ``NotFoundError`` when gone."""

    @abstractmethod
    def list_issue_comments(self, key: str, *, since: datetime | None = None) -> list[Comment]:
        """Every user comment of one issue (system notes excluded), oldest first."""

    @abstractmethod
    def get_comment(self, key: str, comment_id: str) -> Comment:
        """One comment of an issue by id; ``NotFoundError`` when it (or the issue) is gone. The sync's
        deletion sweep confirms a comment's absence with this before tombstoning it (DESIGN section 10)."""

    @abstractmethod
    def list_users(self) -> list[User]:
        """People who can be assigned in the connection's scope."""

    @abstractmethod
    def create_issue(self, draft: IssueDraft) -> Issue: ...

    @abstractmethod
    def update_issue(self, key: str, changes: IssueChanges) -> Issue: ...

    @abstractmethod
    def list_transitions(self, key: str) -> list[Transition]: ...

    @abstractmethod
    def transition_issue(self, key: str, target: str) -> Issue:
        """Move an issue: ``target`` is a status category (``todo``, ``done``), a transition id from
        :meth:`list_transitions`, or its name."""

    @abstractmethod
    def add_comment(self, key: str, body: str) -> Comment: ...

    @abstractmethod
    def search_issues(self, query: str, *, limit: int = 50) -> list[Issue]:
        """Issues matching a tracker-native query (GitHub search syntax, GitLab ``search``, JQL)."""

    @abstractmethod
    def register_webhook(
        self, url: str, secret: str, *, events: Sequence[str] | None = None
    ) -> WebhookRegistration:
        """Register a delivery URL signed with ``secret``; ``events`` default to issues and comments."""

    @abstractmethod
    def unregister_webhook(self, hook_id: str) -> None:
        """Remove a webhook; removing one that is already gone is not an error."""

    # ---- operations only some trackers have (check ``capabilities``) -----------------------------
    def unsupported(self, capability: str) -> UnsupportedCapability:
        """The error for an operation this adapter cannot do; raised by the defaults below."""
        if getattr(self.capabilities, capability, False):
            message = f"the {self.display_name} adapter declares {capability.replace('_', ' ')} but lacks it"
        else:
            message = f"{self.display_name} does not support {capability.replace('_', ' ')}"
        return UnsupportedCapability(message, details={"provider": self.name, "capability": capability})

    def require(self, capability: str) -> None:
        if not getattr(self.capabilities, capability, False):
            raise self.unsupported(capability)

    def iter_comment_pages(
        self, *, since: datetime | None = None, cursor: PageCursor | None = None
    ) -> Iterator[CommentPage]:
        """Comments of the whole scope in one listing, oldest update first (``repo_wide_comments``)."""
        raise self.unsupported("repo_wide_comments")

    def list_worklogs(self, key: str) -> list[Worklog]:
        raise self.unsupported("worklogs")

    def list_sprints(self) -> list[Sprint]:
        raise self.unsupported("sprints")

    def attach_file(self, key: str, filename: str, content: bytes, content_type: str) -> Attachment:
        raise self.unsupported("attachments")

    def list_security_advisories(self, *, state: str | None = None) -> list[dict[str, Any]]:
        raise self.unsupported("security_advisories")


__all__ = ["MAX_REDIRECTS", "USER_AGENT", "CheckStep", "FetchedPage", "TrackerAdapter", "describe_failure"]
