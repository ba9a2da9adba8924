"""The sandbox tracker core: one base class that a provider module fills in to become a fake tracker.

A sandbox tracker is a real HTTP server on 127.0.0.1 that speaks one provider's REST API from in-memory,
deterministically seeded state, plus the control API of DESIGN section 9 under ``/_sandbox/``. The core owns
everything that is the same for every provider; a provider package (``github/``, ``gitlab/``, ``jira/``)
declares what differs, as class attributes and decorated handlers spread over route modules::

    class GitHubSandbox(SandboxTracker[GitHubState]):
        kind = "github"                       # registry key, token and secret names
        default_rate_limit = 5000             # per principal per window
        webhook_retry_delays_s = ()           # GitHub does not retry failed deliveries

        def build_state(self, sizes, rng): ...          # seed (deterministic from rng)
        def authenticate(self, request): ...            # -> Principal, or raise ApiError(401)
        def render_error(self, request, error): ...     # ApiError -> Reply in the provider's error shape
        def rate_limit_headers(self, bucket): ...       # RateBucket -> headers on every response
        def rate_limited(self, request, bucket): ...    # -> ApiError when the primary limit is spent
        def build_webhook_requests(self, event, payload): ...  # -> signed WebhookRequests per hook

        @route("GET", "/repos/{owner}/{repo}/issues")
        def list_issues(self, request, owner, repo): ...      # -> Reply (or raise ApiError)

        @mutation("update")
        def mutate_update(self, number, fields=None): ...     # for /_sandbox/mutate and .mutate()

Public surface (import these from ``infra.local.trackers.core``):

- :class:`SandboxTracker` -- the base; in-process API ``.url``, ``.start()``, ``.stop()``,
  ``.reset(**sizes)``, ``.mutate(action, **params)``, ``.requests()``, ``.reset_requests()``,
  ``.add_faults(rules)``, ``.clear_faults()``, ``.faults()``, ``.exhaust_rate_limit(s)``, ``.deliveries()``,
  ``.wait_for_deliveries(timeout_s)``, ``.describe()``, ``.state`` (the provider's in-memory truth),
  ``.sizes``, ``.clock`` (freeze/advance "now"), ``.lock``, ``.token``, ``.webhook_secret``.
  For provider code: ``.touch()``, ``.view(query, compute)``, ``.emit(event, payload)``,
  ``.send_webhooks(requests)``, ``.rate_status(principal)``, ``.read_json(request)``, ``.now()``.
  Declared per provider for its callers (tests, benchmarks, the demo stack), so none branches on a tracker's
  name: ``scope_key``, ``credential_fields``, ``listing_route`` (+ ``listing_operation`` for GraphQL; both in
  ``.listing_fault(**rule)``), ``issue_ref_key``, ``title_field``,
  ``close_fields``; ``.connection_request()`` / ``connection_request_for(describe_entry)`` (the ``POST
  /v1/connections`` body), ``.urls()``, ``.issue_ref(n)``, ``.open_issue(title)``, ``.retitle_issue()``,
  ``.close_issue()``, ``.comment_on_issue()``, ``.remove_comment()``, ``.remove_issue()``,
  ``.removable_alone()``, ``.search_query(text)``, ``.issue_counts()``, ``.full_sync_floor()``,
  ``.read_with_client_library()``.
- :func:`route`, :func:`mutation` -- the two decorators a provider uses.
- :class:`Reply`, :class:`ApiError`, :class:`Principal`, :class:`SandboxRequest`, :class:`Sizes`.
- :class:`SandboxCluster` -- several started trackers, ``describe()`` in the DESIGN local.json shape.
- Re-exported helpers: :class:`Clock`, :func:`iso_z`, :func:`parse_iso`, :data:`SEED_EPOCH`,
  :class:`SortedKeys`, :class:`ListWindow`, :class:`ViewCache`, :func:`page_slice`, :func:`last_page`,
  :func:`page_url`, :func:`link_header`, :func:`numbered_page_links`, :class:`RateBucket`,
  :class:`WebhookRequest`, :class:`Delivery`, :class:`FaultRule`, :func:`is_loopback_url`.

Control API (DESIGN section 9; JSON; errors are ``{"error": "..."}`` with 400/404): ``POST /_sandbox/reset``
(``seed``, ``issues``, ``comments_per_issue``, ``closed_ratio``, ``worklogs_per_issue``, ``users``,
``sprints``, ``rate_limit``; a clean slate: counters, faults, limits, hooks and deliveries are cleared),
``GET /_sandbox/requests``, ``POST /_sandbox/requests/reset``, ``POST|GET|DELETE /_sandbox/faults``
(``POST`` appends rules; see ``_faults`` for matching; extra fields ``method``, ``retry_after_s``,
``message``, ``operation`` (a GraphQL operation name)), ``POST /_sandbox/mutate`` (``{"action", ...}``,
the provider's ``@mutation`` handlers),
``GET /_sandbox/deliveries[?wait=s]`` (webhook attempts) and ``GET /_sandbox`` (kind, sizes, describe()).

Request pipeline (``__call__``, the WSGI app), in this order:

1. ``/_sandbox/...`` goes to the control API (never counted, faulted or authenticated).
2. Route match on the declared templates; no match -> ``render_error(ApiError(404))`` (a path that exists
   with another method -> ``unknown_method_status``, 404 on GitHub like the real API).
3. Count the request under its route key ``"METHOD /template"`` (unmatched: ``"METHOD <unmatched>"``).
4. Fault rules: delay, connection reset (a real TCP RST), rate-limit exhaustion, provider error ``status``
   (with the caller's rate-limit headers, as every real answer has them; a rule with both ``status`` in
   ``rate_limit_fault_statuses`` and ``rate_limit_reset_s`` is the provider's own rate-limit answer).
   An unmatched route answers ``render_error`` too, with an identified caller's rate-limit headers.
5. ``authenticate`` -> :class:`Principal`; then the primary rate limit (routes declared
   ``rate_limited=False``, like GitHub's ``/rate_limit``, skip it).
6. The handler runs under ``self.lock`` (state is consistent for the whole response).
7. Conditional GET: weak ETag over the body; ``If-None-Match`` match -> 304 with no body, counted in
   ``not_modified`` and not charged to an authenticated principal's rate limit.
8. Rate-limit headers, ``response_headers``; ``malformed_body`` faults truncate the body last.

State discipline: handlers and mutations run under ``self.lock``; after any write call ``self.touch()`` (it
bumps ``self.version`` so cached list views recompute, which is how page drift becomes visible) and
``self.emit(event, payload)`` to send the provider's webhook to every registered hook.

Seeding: ``build_state`` gets ``Sizes`` and a ``random.Random`` seeded from ``"{kind}:{seed}"``; timestamps of
seeded items lie before :data:`SEED_EPOCH`, so the same seed always yields the same data. Keep records
compact (slotted dataclasses, shared strings) and render the provider's JSON per response: 100,000 issues
with 3 comments each must seed in under 15 s and 1 GB.
"""

from __future__ import annotations

import abc
import hashlib
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from http import HTTPStatus
from typing import Any, ClassVar, Generic, Self, TypeVar

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from ._clock import SEED_EPOCH, Clock, iso_z, parse_iso
from ._faults import FaultBook, FaultRule, graphql_operation, parse_rule
from ._paging import (
    ListWindow,
    SortedKeys,
    ViewCache,
    last_page,
    link_header,
    numbered_page_links,
    page_slice,
    page_url,
)
from ._ratelimit import RateBucket, RateLimiter
from ._server import ResetConnection, ThreadedServer
from ._webhooks import Delivery, WebhookDispatcher, WebhookRequest, is_loopback_url

__all__ = [
    "SEED_EPOCH",
    "ApiError",
    "Clock",
    "Delivery",
    "FaultRule",
    "ListWindow",
    "Principal",
    "RateBucket",
    "Reply",
    "SandboxCluster",
    "SandboxRequest",
    "SandboxTracker",
    "Sizes",
    "SortedKeys",
    "ViewCache",
    "WebhookRequest",
    "is_loopback_url",
    "iso_z",
    "last_page",
    "link_header",
    "mutation",
    "numbered_page_links",
    "page_slice",
    "page_url",
    "parse_iso",
    "route",
]

logger = logging.getLogger(__name__)

StateT = TypeVar("StateT")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
CONTROL_PREFIX = "/_sandbox/"
# Larger bodies than GitHub's 25 MB webhook cap make no sense for a sandbox either.
MAX_BODY_BYTES = 25 * 1024 * 1024


# --------------------------------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much to seed: the DESIGN ``/_sandbox/reset`` body fields, plus ``users`` and ``sprints``."""

    seed: str = "demo"
    issues: int = 50
    comments_per_issue: int = 3
    closed_ratio: float = 0.3
    worklogs_per_issue: int = 0
    users: int = 8
    sprints: int = 4

    def seeding(self) -> dict[str, Any]:
        """The sizes every tracker's ``seed_state`` takes (``seed_state(rng, **sizes.seeding())``)."""
        return {
            "issues": self.issues,
            "comments_per_issue": self.comments_per_issue,
            "closed_ratio": self.closed_ratio,
            "users": self.users,
        }

    # field -> (minimum, maximum); bounds keep one request from asking for more memory than a laptop has.
    LIMITS: ClassVar[dict[str, tuple[float, float]]] = {
        "issues": (0, 1_000_000),
        "comments_per_issue": (0, 1_000),
        "closed_ratio": (0.0, 1.0),
        "worklogs_per_issue": (0, 1_000),
        "users": (1, 10_000),
        "sprints": (0, 10_000),
    }

    def with_changes(self, changes: Mapping[str, Any]) -> Sizes:
        """A validated copy; ``ValueError`` names the bad field (the control API answers 400 with it)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown size fields: {', '.join(unknown)}")
        values = asdict(self)
        for name, value in changes.items():
            if value is None:
                continue
            if name == "seed":
                if not isinstance(value, str | int) or isinstance(value, bool):
                    raise ValueError("seed must be a string or an integer")
                values[name] = str(value)
                continue
            low, high = self.LIMITS[name]
            numeric = float if name == "closed_ratio" else int
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            if numeric is int and not float(value).is_integer():
                raise ValueError(f"{name} must be an integer")
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low:g} and {high:g}")
            values[name] = numeric(value)
        if values["issues"] * max(values["comments_per_issue"], values["worklogs_per_issue"]) > 5_000_000:
            raise ValueError("issues x comments_per_issue (or worklogs_per_issue) must stay under 5,000,000")
        return Sizes(**values)


class ApiError(Exception):
    """A provider-API error. Handlers raise it; the provider's ``render_error`` gives it the provider's shape.

    ``details`` carries provider-specific fields (GitHub's ``errors`` list, GitLab's ``message`` object, ...).
    """

    def __init__(
        self, status: int, message: str = "", *, headers: Mapping[str, str] | None = None, **details: Any
    ) -> None:
        self.status = status
        self.message = message or _reason(status)
        self.headers = dict(headers or {})
        self.details = details
        super().__init__(f"{status} {self.message}")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as ``authenticate`` decided.

    ``key`` names the rate-limit bucket (never the token itself); ``grants`` is provider-defined (repo
    names, project ids, ``"*"``) and is what a handler checks before answering 404 for what the caller
    cannot see.
    """

    key: str
    login: str
    authenticated: bool = True
    rate_limit: int | None = None
    grants: frozenset[str] = frozenset({"*"})

    def may(self, scope: str) -> bool:
        return "*" in self.grants or scope in self.grants


@dataclass(slots=True)
class Reply:
    """What a handler returns: a JSON-able body (``bytes`` go out as they are; ``None`` means no body)."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_CONTENT_TYPE


class SandboxRequest(Request):
    """werkzeug's request plus what the pipeline learned about it."""

    max_content_length = MAX_BODY_BYTES
    principal: Principal | None = None
    route_key: str = ""


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    template: str  # OpenAPI-style, as counted: "/repos/{owner}/{repo}/issues/{issue_number}"
    rule: str  # werkzeug syntax: "/repos/<owner>/<repo>/issues/<int:issue_number>"
    handler: str
    rate_limited: bool
    conditional: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def route(
    method: str, template: str, *, rate_limited: bool = True, conditional: bool = True
) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """Declare a provider handler for ``METHOD template``.

    ``template`` uses the provider's documented path syntax, optionally typed for matching:
    ``"/repos/{owner}/{repo}/issues/{issue_number:int}"``. Counters and fault rules use the template without
    the types. ``rate_limited=False`` skips the primary-limit check and charge; ``conditional=False`` turns
    off the ETag/304 handling for the route. The handler is called as ``handler(request, **path_params)``.
    """

    def decorate(func: Callable[..., Reply]) -> Callable[..., Reply]:
        declared = list(getattr(func, "__sandbox_routes__", ()))
        declared.append((method.upper(), template, rate_limited, conditional))
        func.__sandbox_routes__ = declared  # type: ignore[attr-defined]
        return func

    return decorate


def mutation(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the handler of one ``/_sandbox/mutate`` action (``update``, ``create``, ``comment``, ...).

    It is called under the state lock with the JSON body's other keys as keyword arguments and returns a
    JSON-able dict; a ``ValueError`` or ``KeyError`` becomes a 400/404 from the control API.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__sandbox_mutation__ = action  # type: ignore[attr-defined]
        return func

    return decorate


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _encode_json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _weak_etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()}"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    bare = etag.removeprefix("W/")
    for candidate in header.split(","):
        value = candidate.strip()
        if value == "*" or value.removeprefix("W/") == bare:
            return True
    return False


# --------------------------------------------------------------------------------------------- the base


class SandboxTracker(abc.ABC, Generic[StateT]):
    """Base of every sandbox tracker; see the module docstring for what a provider declares."""

    # ---- declared by providers
    kind: ClassVar[str] = ""
    default_rate_limit: ClassVar[int] = 5000
    # Statuses with which the tracker answers a spent primary limit: a fault rule with one of them and
    # ``rate_limit_reset_s`` answers as ``rate_limited`` does (GitHub: 403 and 429).
    rate_limit_fault_statuses: ClassVar[frozenset[int]] = frozenset({429})
    rate_limit_window_s: ClassVar[int] = 3600
    webhook_timeout_s: ClassVar[float] = 5.0
    webhook_retry_delays_s: ClassVar[tuple[float, ...]] = ()
    unknown_method_status: ClassVar[int] = 405
    bad_json_message: ClassVar[str] = "Problems parsing JSON"
    # GitHub documents an authenticated 304 as free against the primary limit; GitLab's Rack::Attack counts
    # every request, 304s included, so its sandbox sets this to False.
    not_modified_is_free: ClassVar[bool] = True

    # ---- collected from decorators by __init_subclass__
    routes: ClassVar[tuple[RouteSpec, ...]] = ()
    mutations: ClassVar[dict[str, str]] = {}
    _routes_by_key: ClassVar[dict[str, RouteSpec]] = {}
    _url_map: ClassVar[Map]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes: dict[str, RouteSpec] = {spec.key: spec for spec in cls.routes}
        mutations = dict(cls.mutations)
        for name in dir(cls):
            member = getattr(cls, name, None)
            for method, template, rate_limited, conditional in getattr(member, "__sandbox_routes__", ()):
                rule = _PARAM.sub(lambda m: f"<{m[2]}:{m[1]}>" if m[2] else f"<{m[1]}>", template)
                spec = RouteSpec(method, _PARAM.sub(r"{\1}", template), rule, name, rate_limited, conditional)
                routes[spec.key] = spec
            action = getattr(member, "__sandbox_mutation__", None)
            if action:
                mutations[action] = name
        cls.routes = tuple(routes.values())
        cls._routes_by_key = routes
        cls.mutations = mutations
        cls._url_map = Map(
            [Rule(spec.rule, methods=[spec.method], endpoint=spec.key) for spec in cls.routes],
            strict_slashes=False,
            merge_slashes=False,
        )

    def __init__(
        self,
        *,
        seed: str = "demo",
        issues: int = 50,
        comments_per_issue: int = 3,
        closed_ratio: float = 0.3,
        worklogs_per_issue: int = 0,
        users: int | None = None,
        sprints: int | None = None,
        rate_limit: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.rate_limit = rate_limit or self.default_rate_limit
        self.version = 0
        self._initial = Sizes().with_changes(
            {
                "seed": seed,
                "issues": issues,
                "comments_per_issue": comments_per_issue,
                "closed_ratio": closed_ratio,
                "worklogs_per_issue": worklogs_per_issue,
                "users": users,
                "sprints": sprints,
            }
        )
        self.sizes = self._initial
        self._server: ThreadedServer | None = None
        self._base_url = "http://sandbox.localhost"
        self._limiter = RateLimiter(self.rate_limit_window_s)
        self._faults = FaultBook()
        self._views = ViewCache()
        self._counter_lock = threading.Lock()
        self._by_route: dict[str, int] = {}
        self._not_modified: dict[str, int] = {}
        self._faulted = 0
        self._webhooks = WebhookDispatcher(
            timeout_s=self.webhook_timeout_s, retry_delays_s=self.webhook_retry_delays_s
        )
        self.state: StateT = self.build_state(self.sizes, self._rng(self.sizes))

    # ------------------------------------------------------------------ what a provider must fill in

    @abc.abstractmethod
    def build_state(self, sizes: Sizes, rng: random.Random) -> StateT:
        """Seeded in-memory provider state; only ``rng`` and :data:`SEED_EPOCH` may vary it (determinism)."""

    @abc.abstractmethod
    def authenticate(self, request: SandboxRequest) -> Principal:
        """Who is calling; raise ``ApiError(401, ...)`` for a bad or missing credential."""

    @abc.abstractmethod
    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        """``error`` in the provider's own error body shape and status."""

    @abc.abstractmethod
    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        """Headers describing ``bucket`` on every rate-limited response (GitHub: ``x-ratelimit-*``)."""

    @abc.abstractmethod
    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        """The provider's answer when the primary limit is spent (GitHub: 403, GitLab and Jira: 429)."""

    @abc.abstractmethod
    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        """One signed request per registered hook that subscribes to ``event`` (empty when none do)."""

    # ------------------------------------------------------------------ optional provider hooks

    @property
    def token(self) -> str:
        """The seeded API token: deterministic per seed and obviously fake."""
        return f"sandbox-{self.kind}-token-{self.sizes.seed}"

    @property
    def webhook_secret(self) -> str:
        """The secret trackbridge's demo connection uses when it registers a hook."""
        return f"sandbox-{self.kind}-webhook-secret-{self.sizes.seed}"

    def describe_extra(self) -> dict[str, Any]:
        """Provider fields of the local.json ``trackers`` entry (``repo``, ``project``, ``email``)."""
        return {}

    def response_headers(self, request: SandboxRequest, reply: Reply) -> dict[str, str]:
        """Headers the provider puts on every API response (request ids, media type, ...)."""
        return {}

    def fault_error(self, request: SandboxRequest, rule: FaultRule) -> ApiError:
        """The error a fault rule with ``status`` produces; override for the provider's wording."""
        headers = {"Retry-After": str(rule.retry_after_s)} if rule.retry_after_s is not None else {}
        return ApiError(rule.status or 500, rule.message or _reason(rule.status or 500), headers=headers)

    def rate_limit_fault(self, request: SandboxRequest, rule: FaultRule, bucket: RateBucket) -> ApiError:
        """The answer to a rule with ``status`` in ``rate_limit_fault_statuses`` and ``rate_limit_reset_s``.

        The provider's own primary-limit answer (``rate_limited``) for the spent ``bucket``, with the rule's
        status; override to honour ``message`` in the provider's way.
        """
        error = self.rate_limited(request, bucket)
        error.status = rule.status or error.status
        return error

    # ------------------------------------------------------------------ declared for callers, per provider
    # Tests, benchmarks and the demo stack read these instead of branching on the tracker's name: adding a
    # provider means filling them in here, not editing every caller.

    # The connection's scope key (``POST /v1/connections`` ``scope``); ``describe()`` holds its value under
    # the same name (``repo`` for GitHub, ``project`` for GitLab and Jira).
    scope_key: ClassVar[str] = "project"
    # Connection credential key -> the ``describe()`` field holding its value.
    credential_fields: ClassVar[Mapping[str, str]] = {"token": "token"}
    # Fault-rule route pattern (see ``_faults``) of the issue listing a sync pages through.
    listing_route: ClassVar[str] = "GET */issues"
    # Its GraphQL operation name, when one route serves every query (Linear's ``POST /graphql``).
    listing_operation: ClassVar[str | None] = None
    # The keyword ``/_sandbox/mutate`` takes to name an issue, and the one its ``create`` answer names it by.
    issue_ref_key: ClassVar[str] = "number"
    # The issue field that holds the title in ``create``/``update`` mutations.
    title_field: ClassVar[str] = "title"
    # The ``update`` mutation fields that close an issue (a provider whose closing is not a field overrides
    # :meth:`close_issue`).
    close_fields: ClassVar[Mapping[str, Any]] = {"state": "closed"}

    @classmethod
    def connection_request_for(
        cls, info: Mapping[str, Any], *, name: str | None = None, webhook_secret: bool = False
    ) -> dict[str, Any]:
        """The ``POST /v1/connections`` body for the seeded project of the sandbox ``info`` describes (its
        local.json ``trackers`` entry): ``name``, ``provider``, ``base_url``, ``scope``, ``credentials``, and
        ``webhook_secret`` when asked for."""
        body: dict[str, Any] = {
            "name": name or f"{cls.kind}-sandbox",
            "provider": cls.kind,
            "base_url": info["url"],
            "scope": {cls.scope_key: info[cls.scope_key]},
            "credentials": {key: info[source] for key, source in cls.credential_fields.items()},
        }
        if webhook_secret:
            body["webhook_secret"] = info.get("webhook_secret") or None
        return body

    def connection_request(self, *, name: str | None = None, webhook_secret: bool = False) -> dict[str, Any]:
        """:meth:`connection_request_for` this running sandbox."""
        return self.connection_request_for(self.describe(), name=name, webhook_secret=webhook_secret)

    def urls(self) -> tuple[str, ...]:
        """Every base URL the sandbox serves (``url``, Jira's ``oauth_url``): what egress must admit."""
        return tuple(
            value
            for key, value in self.describe().items()
            if key.endswith("url") and isinstance(value, str) and value.startswith("http")
        )

    @classmethod
    def listing_fault(cls, **rule: Any) -> dict[str, Any]:
        """A fault rule (``add_faults``) doing ``rule``'s action to the issue listing a sync pages through."""
        aim = {"route": cls.listing_route}
        if cls.listing_operation:
            aim["operation"] = cls.listing_operation
        return {**aim, **rule}

    def issue_ref(self, issue: int | str) -> dict[str, Any]:
        """The ``/_sandbox/mutate`` keyword naming ``issue``: a number, or trackbridge's key (``#12``)."""
        return {self.issue_ref_key: int(str(issue).lstrip("#"))}

    def open_issue(self, title: str) -> int | str:
        """Create an open issue (webhooks fire as for an API write); returns what :meth:`issue_ref` takes."""
        created = self.mutate("create", fields={self.title_field: title})
        ref: int | str = created[self.issue_ref_key]
        return ref

    def retitle_issue(self, issue: int | str, title: str) -> None:
        self.mutate("update", **self.issue_ref(issue), fields={self.title_field: title})

    def close_issue(self, issue: int | str) -> None:
        self.mutate("update", **self.issue_ref(issue), fields=dict(self.close_fields))

    def comment_on_issue(self, issue: int | str, body: str) -> str:
        """Add a comment; returns its id."""
        return str(self.mutate("comment", **self.issue_ref(issue), body=body)["comment_id"])

    def remove_comment(self, comment_id: int | str) -> None:
        self.mutate("delete_comment", comment_id=int(comment_id))

    def remove_issue(self, issue: int | str) -> None:
        self.mutate("delete", **self.issue_ref(issue))

    def removable_alone(self, issue: int | str) -> bool:
        """Whether deleting ``issue`` deletes nothing else (Jira takes an issue's sub-tasks along)."""
        return True

    def search_query(self, text: str) -> str:
        """A query in the tracker's own search language that finds issues containing ``text``."""
        return text

    @abc.abstractmethod
    def issue_counts(self) -> tuple[int, int, int]:
        """``(issues, items the issue listing returns, comments)`` as the sandbox holds them now."""

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        """The fewest requests a full read of ``listed`` issues and ``comments`` comments can take here
        (``truncated``: issues whose embedded comments a client must page apart)."""
        return math.ceil(listed / 100) + math.ceil(comments / 100)

    @abc.abstractmethod
    def read_with_client_library(self) -> None:
        """Read every issue and its comments as people write it with the tracker's usual Python library,
        one request per issue at least (the benchmarks' naive baseline)."""

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL for API clients (``http://127.0.0.1:PORT``); a placeholder until :meth:`start`."""
        return self._base_url

    @property
    def started(self) -> bool:
        return self._server is not None

    def start(self, *, host: str = "127.0.0.1", port: int = 0) -> Self:
        if self._server is None:
            self._server = ThreadedServer(self, host=host, port=port)
            self._base_url = f"http://{self._server.host}:{self._server.port}"
        return self

    def stop(self) -> None:
        self._webhooks.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ in-process control API

    def reset(self, **sizes: Any) -> Sizes:
        """Re-seed from scratch. Omitted sizes take the constructor's values; ``rate_limit`` may be given too.

        A reset is a clean slate: counters, fault rules, rate-limit windows, registered hooks (they are
        provider state) and the delivery history are all cleared, so the result depends only on the arguments.
        """
        rate_limit = sizes.pop("rate_limit", None)
        if rate_limit is not None and (
            isinstance(rate_limit, bool) or not isinstance(rate_limit, int) or not 1 <= rate_limit <= 10**9
        ):
            raise ValueError("rate_limit must be a positive integer")
        new_sizes = self._initial.with_changes(sizes)
        state = self.build_state(new_sizes, self._rng(new_sizes))
        with self.lock:
            self.sizes = new_sizes
            self.state = state
            self.rate_limit = rate_limit or self.default_rate_limit
            self.touch()
        self._views.clear()
        self._limiter.clear()
        self._faults.clear()
        self._webhooks.clear()
        self.reset_requests()
        return new_sizes

    def mutate(self, action: str, **params: Any) -> dict[str, Any]:
        """Change data as ``/_sandbox/mutate`` does; the provider's webhooks fire as for an API write."""
        handler_name = self.mutations.get(action)
        if handler_name is None:
            raise ValueError(f"unknown action {action!r}; known: {', '.join(sorted(self.mutations))}")
        with self.lock:
            result: dict[str, Any] = getattr(self, handler_name)(**params)
        return result

    def requests(self) -> dict[str, Any]:
        """DESIGN's ``{"total", "by_route", "not_modified"}``, plus ``not_modified_by_route``, ``faulted``."""
        with self._counter_lock:
            return {
                "total": sum(self._by_route.values()),
                "by_route": dict(self._by_route),
                "not_modified": sum(self._not_modified.values()),
                "not_modified_by_route": dict(self._not_modified),
                "faulted": self._faulted,
            }

    def reset_requests(self) -> None:
        with self._counter_lock:
            self._by_route.clear()
            self._not_modified.clear()
            self._faulted = 0

    def add_faults(self, rules: Iterable[Mapping[str, Any] | FaultRule]) -> list[dict[str, Any]]:
        """Append fault rules (validated; ``ValueError`` on a bad one, nothing added then)."""
        parsed = [item if isinstance(item, FaultRule) else parse_rule(dict(item)) for item in rules]
        self._faults.add(parsed)
        return self._faults.describe()

    def clear_faults(self) -> None:
        self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        return self._faults.describe()

    def exhaust_rate_limit(self, seconds: float) -> int:
        """Every principal has 0 requests left for ``seconds``; returns the reset epoch."""
        return self._limiter.exhaust(seconds)

    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery since the last reset, oldest first, with all attempts."""
        return self._webhooks.deliveries()

    def wait_for_deliveries(self, timeout_s: float = 30.0) -> bool:
        """Block until queued webhook deliveries are done; False if ``timeout_s`` passed first."""
        return self._webhooks.wait(timeout_s)

    def describe(self) -> dict[str, Any]:
        """This tracker's entry of the DESIGN local.json ``trackers`` object."""
        return {
            "url": self.url,
            "token": self.token,
            "webhook_secret": self.webhook_secret,
            **self.describe_extra(),
        }

    # ------------------------------------------------------------------ helpers for provider code

    def touch(self) -> int:
        """Record that state changed (call under ``self.lock`` after every write); returns the new version."""
        self.version += 1
        return self.version

    def view(self, query: Hashable, compute: Callable[[], Sequence[Any]]) -> Sequence[Any]:
        """A filtered, ordered list of keys computed once per data version (see ``ViewCache``)."""
        return self._views.get(query, self.version, compute)

    def send_webhooks(self, requests: Iterable[WebhookRequest]) -> list[Delivery]:
        """Queue already-built requests (e.g. GitHub's ``ping``, which goes to one hook only)."""
        return [self._webhooks.submit(request) for request in requests]

    def rate_status(self, principal: Principal) -> RateBucket:
        """``principal``'s standing in the primary limit, without charging it (for ``/rate_limit`` routes)."""
        return self._limiter.peek(principal.key, principal.rate_limit or self.rate_limit)

    def emit(self, event: str, payload: Any) -> list[Delivery]:
        """Queue the provider's webhook for ``event`` to every subscribed hook; returns the deliveries."""
        return self.send_webhooks(self.build_webhook_requests(event, payload))

    def read_json(self, request: SandboxRequest, *, required: bool = True) -> Any:
        """The request body as JSON; a body that does not parse -> ``ApiError(400, bad_json_message)``."""
        raw = request.get_data(cache=True)
        if not raw.strip():
            if required:
                raise ApiError(400, self.bad_json_message)
            return None
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, self.bad_json_message) from exc

    def now(self) -> int:
        return self.clock.now()

    # ------------------------------------------------------------------ the WSGI app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = SandboxRequest(environ)
        if request.path.startswith(CONTROL_PREFIX) or request.path == CONTROL_PREFIX.rstrip("/"):
            response = self._control(request)
        else:
            response = self._api(request)
        return response(environ, start_response)

    def _api(self, request: SandboxRequest) -> Response:
        adapter = self._url_map.bind_to_environ(request.environ)
        spec: RouteSpec | None = None
        params: Mapping[str, Any] = {}
        error: ApiError | None = None
        try:
            endpoint, params = adapter.match()
            spec = self._routes_by_key[endpoint]
        except MethodNotAllowed:
            error = ApiError(self.unknown_method_status)
        except (NotFound, RequestRedirect):
            error = ApiError(404, "Not Found")
        key = spec.key if spec else f"{request.method} <unmatched>"
        request.route_key = key
        with self._counter_lock:
            self._by_route[key] = self._by_route.get(key, 0) + 1

        operation = graphql_operation(request.get_data(cache=True)) if self._faults.names_operations else None
        rule = self._faults.match(request.method, spec.template if spec else "<unmatched>", operation)
        if rule is not None:
            with self._counter_lock:
                self._faulted += 1
            if rule.delay_s:
                time.sleep(rule.delay_s)
            if rule.reset_connection:
                raise ResetConnection("sandbox fault: reset_connection")
            reset_epoch: int | None = None
            if rule.rate_limit_reset_s is not None:
                reset_epoch = self._limiter.exhaust(rule.rate_limit_reset_s)
            if rule.status is not None:
                return self._fault_reply(request, spec, rule, reset_epoch)

        if error is not None or spec is None:
            # No such route (or method): still an answer to an identified caller, so it carries the caller's
            # rate-limit standing like every real answer does (peeked, not charged).
            self._identify(request)
            return self._finish(
                request, self.render_error(request, error or ApiError(404, "Not Found")), None, rule
            )

        bucket: RateBucket | None = None
        try:
            principal = self.authenticate(request)
            request.principal = principal
            limit = principal.rate_limit or self.rate_limit
            if spec.rate_limited:
                bucket = self._limiter.peek(principal.key, limit)
                if bucket.exhausted:
                    raise self.rate_limited(request, bucket)
            with self.lock:
                reply = getattr(self, spec.handler)(request, **params)
                body = self._body_bytes(reply)
        except ApiError as exc:
            reply = self.render_error(request, exc)
            body = self._body_bytes(reply)
        except HTTPException as exc:  # e.g. werkzeug's 413 for a body over max_content_length
            reply = self.render_error(request, ApiError(exc.code or 400, exc.description or ""))
            body = self._body_bytes(reply)
        except Exception:
            # A crash is a sandbox bug; the client still gets the provider's 500 shape, and the log says why.
            logger.exception("sandbox.handler_crashed", extra={"route": key})
            reply = self.render_error(request, ApiError(500, "Server Error"))
            body = self._body_bytes(reply)

        caller = request.principal
        not_modified = False
        if (
            spec.conditional
            and request.method in ("GET", "HEAD")
            and reply.status == 200
            and body is not None
        ):
            etag = _weak_etag(body)
            reply.headers.setdefault("ETag", etag)
            not_modified = _etag_matches(request.headers.get("If-None-Match"), etag)
        if spec.rate_limited and caller is not None:
            limit = caller.rate_limit or self.rate_limit
            # A 304 is free only when the request was authenticated (GitHub's documented rule).
            free = not_modified and caller.authenticated and self.not_modified_is_free
            bucket = (
                self._limiter.peek(caller.key, limit) if free else self._limiter.charge(caller.key, limit)
            )
        if not_modified:
            with self._counter_lock:
                self._not_modified[key] = self._not_modified.get(key, 0) + 1
            reply = Reply(None, 304, {"ETag": reply.headers["ETag"]})
            body = None
        return self._finish(request, reply, bucket, rule, body=body)

    def _fault_reply(
        self, request: SandboxRequest, spec: RouteSpec | None, rule: FaultRule, reset_epoch: int | None
    ) -> Response:
        """A fault rule's ``status`` answer with the headers the tracker puts on every answer.

        The caller is identified (a bad credential just means no principal: the fault still answers) so the
        answer carries the caller's rate-limit standing, peeked and not charged. A rule that also exhausts
        the limit (``rate_limit_reset_s``) with one of ``rate_limit_fault_statuses`` answers as the
        tracker's own rate-limit response (``rate_limit_fault``), naming the reset the exhaustion set.
        """
        principal = self._identify(request)
        bucket: RateBucket | None = None
        if principal is not None and (spec is None or spec.rate_limited):
            bucket = self._limiter.peek(principal.key, principal.rate_limit or self.rate_limit)
        if reset_epoch is not None and rule.status in self.rate_limit_fault_statuses:
            if bucket is None:
                limit = (principal.rate_limit if principal else None) or self.rate_limit
                bucket = RateBucket(limit, 0, limit, reset_epoch)
            error = self.rate_limit_fault(request, rule, bucket)
        else:
            error = self.fault_error(request, rule)
        return self._finish(request, self.render_error(request, error), bucket, rule)

    def _identify(self, request: SandboxRequest) -> Principal | None:
        """The caller, when its credential is good (a bad one just means none): sets ``request.principal``."""
        try:
            request.principal = self.authenticate(request)
        except ApiError:
            request.principal = None
        return request.principal

    def _body_bytes(self, reply: Reply) -> bytes | None:
        if reply.body is None:
            return None
        if isinstance(reply.body, bytes):
            return reply.body
        return _encode_json(reply.body)

    def _finish(
        self,
        request: SandboxRequest,
        reply: Reply,
        bucket: RateBucket | None,
        rule: FaultRule | None,
        *,
        body: bytes | None = None,
    ) -> Response:
        if body is None and reply.status != 304:
            body = self._body_bytes(reply)
        headers = dict(self.response_headers(request, reply))
        if bucket is None and request.principal is not None:
            spec = self._routes_by_key.get(request.route_key)
            if spec is None or spec.rate_limited:
                bucket = self._limiter.peek(
                    request.principal.key, request.principal.rate_limit or self.rate_limit
                )
        if bucket is not None:
            headers.update(self.rate_limit_headers(bucket))
        headers.update(reply.headers)
        if rule is not None and rule.malformed_body and body:
            # A body cut mid-document: what a client sees when a proxy or the server dies mid-response.
            body = body[: max(1, len(body) // 2)]
            headers.pop("ETag", None)
        response = Response(body or b"", status=reply.status, headers=headers)
        if body is not None:
            response.content_type = reply.content_type
        return response

    # ------------------------------------------------------------------ the control API (DESIGN section 9)

    def _control(self, request: SandboxRequest) -> Response:
        path = request.path.rstrip("/")
        method = request.method
        try:
            if path == "/_sandbox/reset" and method == "POST":
                body = self._control_json(request)
                sizes = self.reset(**body)
                return _control_reply({"sizes": asdict(sizes), "rate_limit": self.rate_limit})
            if path == "/_sandbox/requests" and method == "GET":
                return _control_reply(self.requests())
            if path == "/_sandbox/requests/reset" and method == "POST":
                self.reset_requests()
                return _control_reply(self.requests())
            if path == "/_sandbox/faults" and method == "POST":
                body = self._control_json(request)
                rules = body.get("rules")
                if not isinstance(rules, list):
                    raise ValueError('body must be {"rules": [...]}')
                return _control_reply({"rules": self.add_faults(rules)})
            if path == "/_sandbox/faults" and method == "GET":
                return _control_reply({"rules": self.faults()})
            if path == "/_sandbox/faults" and method == "DELETE":
                self.clear_faults()
                return _control_reply({"rules": []})
            if path == "/_sandbox/mutate" and method == "POST":
                body = self._control_json(request)
                action = body.pop("action", None)
                if not isinstance(action, str):
                    raise ValueError(
                        'body needs "action" (one of: ' + ", ".join(sorted(self.mutations)) + ")"
                    )
                return _control_reply(self.mutate(action, **body))
            if path == "/_sandbox/deliveries" and method == "GET":
                wait = request.args.get("wait", type=float)
                drained = self.wait_for_deliveries(min(wait, 30.0)) if wait else None
                items = [d.describe() for d in self.deliveries()]
                return _control_reply({"deliveries": items, "drained": drained})
            if path == "/_sandbox" and method == "GET":
                return _control_reply(
                    {
                        "kind": self.kind,
                        "sizes": asdict(self.sizes),
                        "version": self.version,
                        **self.describe(),
                    }
                )
        except (ValueError, TypeError) as exc:
            return _control_reply({"error": str(exc)}, 400)
        except KeyError as exc:
            return _control_reply({"error": f"not found: {exc.args[0] if exc.args else exc}"}, 404)
        except ApiError as exc:
            return _control_reply({"error": exc.message}, exc.status)
        return _control_reply({"error": f"no control route {method} {request.path}"}, 404)

    def _control_json(self, request: SandboxRequest) -> dict[str, Any]:
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        return body

    def _rng(self, sizes: Sizes) -> random.Random:
        # A string seed is hashed with SHA-512 by random.Random: stable across runs and Python versions.
        return random.Random(f"{self.kind}:{sizes.seed}")  # noqa: S311 - fake data, not cryptography


def _control_reply(body: Any, status: int = 200) -> Response:
    return Response(_encode_json(body), status=status, content_type=JSON_CONTENT_TYPE)


# --------------------------------------------------------------------------------------------- clusters


class SandboxCluster:
    """Several started sandbox trackers, one port each; ``describe()`` is DESIGN's local.json ``trackers``."""

    def __init__(self, trackers: Mapping[str, SandboxTracker[Any]]) -> None:
        self.trackers: dict[str, SandboxTracker[Any]] = dict(trackers)

    def describe(self) -> dict[str, dict[str, Any]]:
        return {name: tracker.describe() for name, tracker in self.trackers.items()}

    def stop(self) -> None:
        for tracker in self.trackers.values():
            tracker.stop()

    def __getitem__(self, name: str) -> SandboxTracker[Any]:
        return self.trackers[name]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
