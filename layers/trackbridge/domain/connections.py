"""A connection: one tracker project (a GitHub repo, a GitLab project, a Jira project or JQL) of one tenant.

The request models validate what the provider needs (DESIGN section 9), as its declaration in
:mod:`trackbridge.domain.trackers` says: GitHub a ``repo`` "owner/name", GitLab a ``project`` (numeric id or
path), Jira a ``project`` key or a ``jql`` query; credentials of the provider's shape; only entities that
sync. Credentials and webhook secrets are ``SecretStr`` from the moment they are parsed, so
they print as ``**********`` in any log or repr; :func:`secret_payload` is the one place they are unwrapped,
for writing to Secrets Manager. :class:`Connection` itself holds no secret, only ``has_credentials``.

A Jira connection may authorize through OAuth 2.0 (3LO) instead: its credentials are ``{"auth": "oauth"}``
(no token yet), it starts with ``has_credentials: false`` and ``auth: "oauth"``, and
``POST /v1/oauth/jira/start`` ... ``GET /v1/oauth/jira/callback`` stores its tokens and sets
``has_credentials`` (``trackbridge.runtime.jira_oauth``).

Field validators read ``info.data["provider"]`` (fields validate in declaration order) so that a wrong
scope or credential field is reported at its own path (``body.scope``), not at the whole body.

Strings people read back (the name, scope values, the Jira e-mail) refuse control characters (C0, DEL,
C1 and the Unicode line separators): a name with a CR LF would forge lines in logs and terminals.

``base_url`` is input for trackbridge's outbound requests: :func:`check_base_url` (which the connection
service runs with the operator's allowlist) answers 422 at ``body.base_url`` when its host is an address
trackbridge does not contact (a literal loopback, private, link-local... address, in any spelling, or a
``localhost`` name). A name is not resolved here: it is checked against every address it resolves to
whenever trackbridge connects (``trackbridge.providers.egress``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Final, Literal, cast
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from trackbridge.domain.backoff import ScheduleState
from trackbridge.domain.credentials import (
    JiraCredentials,
    OAuthCredentials,
    SecretText,
    StoredCredentials,
    TokenCredentials,
    printable,
    printable_query,
)
from trackbridge.domain.egress import EgressPolicy
from trackbridge.domain.errors import ValidationFailed
from trackbridge.domain.ids import external_id, issue_ref
from trackbridge.domain.schedules import AtExpression, parse_schedule_expression, resolve_timezone
from trackbridge.domain.times import UtcDatetime
from trackbridge.domain.tracked_users import TrackedBackfill
from trackbridge.domain.trackers import (
    JIRA_PROJECT_KEY_MAX,
    TRACKER_NAMES,
    TRACKERS,
    Entity,
    TrackerName,
    is_jira_project_key,
)

# The names other modules import, derived from the declarations (trackbridge.domain.trackers).
Provider = TrackerName
SUPPORTED_PROVIDERS: Final[tuple[str, ...]] = TRACKER_NAMES
# What a connection to each tracker may ask to sync (a stored connection may list more: it still loads).
SUPPORTED_ENTITIES: Final[Mapping[str, tuple[str, ...]]] = {n: t.entities for n, t in TRACKERS.items()}
DEFAULT_ENTITIES: Final[tuple[str, ...]] = ("issues", "comments")

Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(printable)]
_GITHUB_REPO = r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"
# The scope's fields: every key some tracker's scope rule names (test_tracker_declarations holds them equal).
SCOPE_KEYS: Final[tuple[str, ...]] = ("repo", "project", "jql", "team")


class Scope(BaseModel):
    """Which part of the tracker a connection covers: exactly what its provider expects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repo: Annotated[str, Field(pattern=_GITHUB_REPO)] | None = None
    project: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(printable)] | None = None
    jql: Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(printable_query)] | None = None
    # A Linear team key (the value rule is the declaration's: domain.trackers.is_linear_team_key).
    team: Annotated[str, Field(min_length=1, max_length=20), AfterValidator(printable)] | None = None

    @model_serializer(mode="wrap")
    def _drop_unset(self, handler: Any) -> dict[str, Any]:
        # {"repo": "o/r"}, not {"repo": "o/r", "project": null, "jql": null}.
        return {key: value for key, value in handler(self).items() if value is not None}

    def values(self) -> dict[str, str | None]:
        """Every scope key and its value (``None`` when unset)."""
        return {key: getattr(self, key) for key in SCOPE_KEYS}

    def check_for(self, provider: str) -> None:
        """Raise ValueError naming what ``provider`` needs when this scope does not fit it."""
        spec = TRACKERS.get(provider)
        problem = spec.scope.problem(self.values()) if spec is not None else None
        if problem is not None:
            raise ValueError(problem)


# A connection created without a ``schedule`` syncs incrementally this often (issue 18).
DEFAULT_SCHEDULE_EXPRESSION = "rate(15 minutes)"


class Schedule(BaseModel):
    """An EventBridge Scheduler expression and its time zone; stored now, turned into a schedule later."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expression: Annotated[str, Field(examples=["rate(15 minutes)", "cron(0 8 ? * MON-FRI *)"])]
    timezone: str = "UTC"

    @field_validator("expression")
    @classmethod
    def _valid_expression(cls, value: str) -> str:
        if isinstance(parse_schedule_expression(value), AtExpression):
            raise ValueError("a connection schedule repeats: use rate(...) or cron(...)")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        resolve_timezone(value)
        return value


Credentials = StoredCredentials | OAuthCredentials
CREDENTIAL_MODELS: Final[Mapping[str, type[TokenCredentials] | type[JiraCredentials]]] = {
    name: spec.credentials for name, spec in TRACKERS.items()
}
# Providers whose connections may authorize through OAuth instead of stored credentials.
OAUTH_PROVIDERS: Final[frozenset[str]] = frozenset(n for n, t in TRACKERS.items() if t.allows_oauth)
AuthKind = Literal["token", "oauth"]


def _asks_for_oauth(raw: Any) -> bool:
    if isinstance(raw, OAuthCredentials):
        return True
    if not isinstance(raw, Mapping):
        return False
    value = raw.get("auth")
    return (value.get_secret_value() if isinstance(value, SecretStr) else value) == "oauth"


def auth_kind(credentials: Credentials) -> AuthKind:
    return "oauth" if isinstance(credentials, OAuthCredentials) else "token"


def parse_credentials(provider: str, raw: Any) -> Credentials:
    """Credentials of ``provider``'s shape; ValueError lists what is wrong without echoing any value."""
    spec = TRACKERS[provider]
    model: type[BaseModel] = spec.credentials
    if _asks_for_oauth(raw):
        if not spec.allows_oauth:
            keys = ", ".join(sorted(spec.credentials.model_fields))
            raise ValueError(f"{provider} connections cannot use OAuth; use {{{keys}}}")
        model = OAuthCredentials
    if isinstance(raw, model):
        return cast(Credentials, raw)
    if isinstance(raw, Mapping):
        # Values may arrive already wrapped (a PATCH body parses them as SecretStr).
        raw = {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in raw.items()}
    try:
        return cast(Credentials, model.model_validate(raw))
    except ValidationError as exc:
        fields = sorted(model.model_fields)
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'credentials'}: {err['msg']}"
            for err in exc.errors()
        )
        hint = ' or {"auth": "oauth"}' if spec.allows_oauth else ""
        raise ValueError(f"{provider} credentials are {{{', '.join(fields)}}}{hint} ({problems})") from None


def secret_payload(credentials: Credentials) -> dict[str, str]:
    """The plain JSON written to Secrets Manager: the only place a credential is unwrapped."""
    payload: dict[str, str] = {}
    for name, value in credentials:
        payload[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return payload


def _check_entities(provider: str, entities: Sequence[str] | None) -> list[Entity]:
    if entities is None:
        return _default_entities()
    supported = TRACKERS[provider].entities
    unsupported = [e for e in entities if e not in supported]
    if unsupported:
        raise ValueError(
            f"{provider} cannot sync {', '.join(unsupported)}; it supports {', '.join(supported)}"
        )
    return cast(list[Entity], list(dict.fromkeys(entities)))


def _default_entities() -> list[Entity]:
    return cast(list[Entity], list(DEFAULT_ENTITIES))


def _clean_base_url(url: HttpUrl) -> str:
    if url.query or url.fragment or url.username or url.password:
        raise ValueError("base_url must be a plain http(s) URL without credentials, query or fragment")
    return str(url).rstrip("/")


def check_base_url(base_url: str, policy: EgressPolicy, *, path: str = "body.base_url") -> None:
    """ValidationFailed (422) at ``path`` when ``base_url``'s host is a literal address ``policy`` refuses
    (``127.0.0.1``, ``[::1]``, ``169.254.169.254``, ``2130706433``...) or a ``localhost`` name. Other names
    pass: they are not resolved here, but checked whenever trackbridge connects."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _field_error(path, "base_url has an invalid port") from None
    refusal = policy.check_literal(host, port)
    if refusal is not None:
        error = _field_error(path, refusal.message, kind="egress_denied")
        error.guidance = refusal.guidance
        raise error


class ConnectionCreate(BaseModel):
    """Body of ``POST /v1/connections``."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: Name
    provider: Provider
    base_url: Annotated[HttpUrl, Field(examples=["https://api.github.com"])]
    scope: Scope
    credentials: Credentials = Field(description="write-only: kept in Secrets Manager, never returned")
    webhook_secret: SecretText | None = Field(None, description="write-only: kept in Secrets Manager")
    schedule: Schedule | None = Field(
        default_factory=lambda: Schedule(expression=DEFAULT_SCHEDULE_EXPRESSION),
        description=f"incremental syncs on this schedule; absent: `{DEFAULT_SCHEDULE_EXPRESSION}`, "
        "null: none (manual and webhook-driven syncs only)",
    )
    entities: list[Entity] | None = Field(None, max_length=8)
    include_closed: bool = True
    register_webhook: bool = Field(
        False,
        description="register a webhook at the tracker right away, as POST /v1/connections/{id}/webhook "
        "does; the answer's `webhook` says whether it worked",
    )

    @field_validator("base_url", mode="after")
    @classmethod
    def _plain_url(cls, value: HttpUrl) -> HttpUrl:
        _clean_base_url(value)
        return value

    @field_validator("scope", mode="after")
    @classmethod
    def _scope_fits_provider(cls, value: Scope, info: ValidationInfo) -> Scope:
        if (provider := info.data.get("provider")) is not None:
            value.check_for(provider)
        return value

    @field_validator("credentials", mode="before")
    @classmethod
    def _credentials_fit_provider(cls, value: Any, info: ValidationInfo) -> Any:
        if (provider := info.data.get("provider")) is not None:
            return parse_credentials(provider, value)
        return value

    @field_validator("entities", mode="after")
    @classmethod
    def _entities_fit_provider(cls, value: list[str] | None, info: ValidationInfo) -> list[Entity] | None:
        if (provider := info.data.get("provider")) is not None and value is not None:
            return _check_entities(provider, value)
        return cast(list[Entity] | None, value)


class ConnectionPatch(BaseModel):
    """Body of ``PATCH /v1/connections/{id}``: provider, base_url and scope are fixed once created.

    ``schedule: null`` removes the schedule; an absent field leaves it as it is (``model_fields_set``).
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: Name | None = None
    credentials: dict[str, SecretText] | None = Field(
        None, description="write-only: replaces the stored credentials (same shape as on create)"
    )
    webhook_secret: SecretText | None = Field(
        None, description="write-only: becomes the signing secret; the previous one stays valid for rotation"
    )
    schedule: Schedule | None = None
    entities: list[Entity] | None = Field(None, max_length=8)
    include_closed: bool | None = None


class Connection(BaseModel):
    """A stored connection, as the API returns it: no secret, only whether one is stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    provider: Provider
    base_url: str
    scope: Scope
    schedule: Schedule | None = None
    entities: list[Entity] = Field(default_factory=_default_entities)
    include_closed: bool = True
    has_credentials: bool = True
    has_webhook_secret: bool = False
    # "oauth": the credentials are OAuth tokens that the 3LO flow stores (Jira); "token": a stored token.
    auth: AuthKind = "token"
    # Jira under OAuth: base_url is the API gateway (https://api.atlassian.com/ex/jira/{cloudId}) and this
    # is the site people browse; external ids keep using the site, so switching auth duplicates nothing.
    site_url: str | None = None
    # Jira: syncs ingest only these accounts' issues (GET/PUT .../tracked-users, domain.tracked_users).
    tracked_users: list[str] = Field(default_factory=list)
    tracked_backfill: TrackedBackfill | None = Field(None, exclude=True)
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = 1

    @classmethod
    def from_create(cls, body: ConnectionCreate, *, connection_id: str, now: datetime) -> Connection:
        kind = auth_kind(body.credentials)
        return cls(
            id=connection_id,
            name=body.name,
            provider=body.provider,
            base_url=_clean_base_url(body.base_url),
            scope=body.scope,
            schedule=body.schedule,
            entities=_check_entities(body.provider, body.entities),
            include_closed=body.include_closed,
            # An OAuth connection has no usable credentials until its authorization completes.
            has_credentials=kind == "token",
            has_webhook_secret=body.webhook_secret is not None,
            auth=kind,
            created_at=now,
            updated_at=now,
            version=1,
        )

    def apply(self, patch: ConnectionPatch, *, now: datetime) -> Connection:
        """The connection after ``patch``; ValidationFailed (422) when a field does not fit the provider."""
        changes: dict[str, Any] = {"updated_at": now, "version": self.version + 1}
        fields = patch.model_fields_set
        if "name" in fields and patch.name is not None:
            changes["name"] = patch.name
        if "schedule" in fields:
            changes["schedule"] = patch.schedule
        if "include_closed" in fields and patch.include_closed is not None:
            changes["include_closed"] = patch.include_closed
        if "entities" in fields and patch.entities is not None:
            try:
                changes["entities"] = _check_entities(self.provider, list(patch.entities))
            except ValueError as exc:
                raise _field_error("body.entities", str(exc)) from None
        if patch.webhook_secret is not None:
            changes["has_webhook_secret"] = True
        if patch.credentials is not None:
            kind: AuthKind = "oauth" if _asks_for_oauth(patch.credentials) else "token"
            changes["auth"] = kind
            # Switching to OAuth needs an authorization before anything works; staying on it keeps the tokens.
            changes["has_credentials"] = kind == "token" or (self.auth == "oauth" and self.has_credentials)
        return self.model_copy(update=changes)

    def patch_credentials(self, patch: ConnectionPatch) -> Credentials | None:
        """The new credentials in this provider's shape, if the patch rotates them."""
        if patch.credentials is None:
            return None
        try:
            return parse_credentials(self.provider, patch.credentials)
        except ValueError as exc:
            raise _field_error("body.credentials", str(exc)) from None

    @property
    def locator(self) -> str:
        """The ``base_url_or_repo_url`` part of external ids: where the issues live."""
        return TRACKERS[self.provider].locate(self.base_url, self.scope.values(), self.site_url)

    def external_id(self, native_id: str | int) -> str:
        return external_id(self.provider, self.locator, native_id)

    def issue_ref(self, native_id: str | int) -> str:
        return issue_ref(self.id, native_id)

    def public_fields(self) -> dict[str, Any]:
        """What an audit diff compares: every field a person changes, none of the bookkeeping."""
        return self.model_dump(mode="json", exclude={"created_at", "updated_at", "version"})


WebhookStatus = Literal["active", "inactive", "unregistered"]


class WebhookView(BaseModel):
    """A connection's webhook as ``GET /v1/connections/{id}`` and ``GET .../webhook`` show it.

    ``unregistered``: trackbridge registered no hook (deliveries from a hook set up by hand still verify
    and count in ``last_delivery_at``). ``active``: the registered hook looked healthy at ``checked_at``.
    ``inactive``: it did not (``reason``), so incremental syncs run on a tighter schedule (``fallback``)
    until deliveries resume.
    """

    model_config = ConfigDict(frozen=True)

    status: WebhookStatus
    last_delivery_at: UtcDatetime | None = None
    fallback: bool = False
    reason: str | None = None
    hook_id: str | None = None
    kind: str | None = Field(None, description="github, gitlab, jira_admin (signed, no expiry) or jira_app")
    url: str | None = Field(None, description="where the tracker delivers")
    registered_at: UtcDatetime | None = None
    checked_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = Field(None, description="Jira REST webhooks only: refreshed before then")


class ConnectionView(Connection):
    """A connection with its webhook's state (``GET /v1/connections/{id}``)."""

    webhook: WebhookView
    schedule_state: ScheduleState | None = Field(
        None, description="the schedule as Scheduler runs it: pause and back-off ladder (GET .../schedule)"
    )


def _field_error(path: str, message: str, *, kind: str = "value_error") -> ValidationFailed:
    return ValidationFailed(
        f"{path}: {message}", details={"errors": [{"path": path, "message": message, "type": kind}]}
    )


__all__ = [
    "CREDENTIAL_MODELS",
    "DEFAULT_ENTITIES",
    "DEFAULT_SCHEDULE_EXPRESSION",
    "JIRA_PROJECT_KEY_MAX",
    "OAUTH_PROVIDERS",
    "SCOPE_KEYS",
    "SUPPORTED_ENTITIES",
    "SUPPORTED_PROVIDERS",
    "AuthKind",
    "Connection",
    "ConnectionCreate",
    "ConnectionPatch",
    "ConnectionView",
    "Credentials",
    "Entity",
    "JiraCredentials",
    "OAuthCredentials",
    "Provider",
    "Schedule",
    "Scope",
    "TokenCredentials",
    "WebhookStatus",
    "WebhookView",
    "auth_kind",
    "check_base_url",
    "is_jira_project_key",
    "parse_credentials",
    "printable",
    "secret_payload",
]
