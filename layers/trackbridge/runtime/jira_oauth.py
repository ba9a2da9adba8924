"""Jira OAuth 2.0 (3LO) use cases: start an authorization, complete it at the callback, revoke it.

The protocol itself (signed state, PKCE, code exchange, accessible resources, rotation) is pure and lives in
``trackbridge.providers.oauth_jira``; this module adds what needs AWS and the table:

* :class:`JiraOAuthConfig` reads the app's ``{"client_id", "client_secret"}`` and the state-signing key
  from Secrets Manager (names in settings; cached like every secret) and the endpoints from settings:
  Atlassian's by default, one base URL (the sandbox's) under the embedded stack.
* :class:`JiraOAuthService` keeps the connection, its token secret and the audit trail in step. Order at
  the callback: check the state (signature, expiry), the caller's session nonce and the issued-state
  record, consume the record (a conditional write: once), then exchange and store the tokens (a connection
  never says ``has_credentials`` without them), then the version-conditioned connection update with its
  audit entry in one transaction.

Single use and session binding (issue 11): :meth:`JiraOAuthService.start` records every state it issues
(``storage.oauth_states``, TTL = the state's expiry) with the digest of a fresh session nonce that only the
starter receives. The callback refuses a state that was not recorded (``OAUTH_STATE_INVALID``), a missing or
wrong nonce (``OAUTH_NONCE_MISSING`` / ``OAUTH_NONCE_MISMATCH``) and a state already consumed
(``OAUTH_STATE_USED``), all 400 and all before any token exchange. The state is consumed before the
exchange, so a failed exchange (Atlassian down, a bad code) spends it too: the user starts again, which an
authorization code (single-use at Atlassian as well) would need anyway.

Tokens only travel inside ``SecretStr`` and the token store; log lines carry names and versions, never
values. Errors of the authorization server become API errors here (a 503 for an unreachable or refusing
server, 429 when it rate-limits): the routes never see a ``TrackerError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import httpx
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import ClientError
from pydantic import SecretStr

from trackbridge.domain.audit import Actor, diff, new_entry
from trackbridge.domain.connections import OAUTH_PROVIDERS, Connection, OAuthCredentials
from trackbridge.domain.errors import (
    Conflict,
    DependencyFailure,
    InvalidInput,
    NotFound,
    RateLimited,
    TrackbridgeError,
    ValidationFailed,
)
from trackbridge.domain.ids import IdPrefix, is_id
from trackbridge.domain.oauth import CALLBACK_PATH, SESSION_NONCE_COOKIE, SESSION_NONCE_HEADER
from trackbridge.domain.times import utcnow
from trackbridge.domain.trackers import tracker
from trackbridge.providers import oauth_jira
from trackbridge.providers.errors import RateLimitedError, TrackerError
from trackbridge.runtime.oauth_tokens import SecretsManagerTokenStore
from trackbridge.runtime.observability import logger
from trackbridge.runtime.secrets import ConnectionSecrets
from trackbridge.runtime.settings import Settings
from trackbridge.storage.audit import AuditRepository
from trackbridge.storage.connections import ConnectionRepository
from trackbridge.storage.oauth_states import IssuedOAuthState, OAuthStateRepository

# A state key shorter than this is a misconfiguration (HMAC-SHA256 wants at least 32 bytes of key).
MIN_STATE_KEY_BYTES = 32
# How often a write that lost a race (a concurrent refresh or edit) is tried again before a 409.
WRITE_ATTEMPTS = 3
_NOT_CONFIGURED_GUIDANCE = (
    "Register an OAuth 2.0 (3LO) app in Atlassian's developer console with the callback URL "
    '<api>/v1/oauth/jira/callback and store {{"client_id", "client_secret"}} in Secrets Manager as {name}.'
)


def _not_configured(what: str, name: str) -> DependencyFailure:
    return DependencyFailure(
        f"Jira OAuth is not configured: {what}",
        code="OAUTH_NOT_CONFIGURED",
        details={"secret_name": name} if name else None,
        guidance=_NOT_CONFIGURED_GUIDANCE.format(name=name or "TB_JIRA_OAUTH_APP_SECRET's secret"),
    )


def api_error(exc: TrackerError) -> TrackbridgeError:
    """The API's answer to an authorization-server failure (which is never the caller's input)."""
    if isinstance(exc, RateLimitedError):
        return RateLimited(exc.message, retry_after_s=exc.retry_after_s, guidance=exc.guidance)
    return DependencyFailure(
        f"the Jira authorization server failed: {exc.message}",
        code=f"OAUTH_{exc.code}",
        details={"status": exc.status, "retryable": exc.retryable},
        guidance=exc.guidance,
    )


class JiraOAuthConfig:
    """The OAuth app, its endpoints and the state key, read lazily (an unconfigured stack still serves)."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.settings = settings
        self._provider = SecretsProvider(boto3_client=client)

    def _secret(self, name: str, *, transform: Literal["json"] | None) -> Any:
        try:
            return self._provider.get(
                name, max_age=self.settings.secrets_ttl_s, transform=transform, VersionStage="AWSCURRENT"
            )
        except TransformParameterError:
            raise _not_configured("its secret is not a JSON object", name) from None
        except GetParameterError as exc:
            cause = exc.__context__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == (
                "ResourceNotFoundException"
            ):
                raise _not_configured("a secret is missing", name) from None
            raise DependencyFailure("Secrets Manager could not read the OAuth settings; retry") from None

    def endpoints(self) -> oauth_jira.OAuthEndpoints:
        base = self.settings.jira_oauth_base_url.strip()
        endpoints = oauth_jira.OAuthEndpoints.under(base) if base else oauth_jira.OAuthEndpoints()
        revocation = self.settings.jira_oauth_revocation_url.strip()
        return replace(endpoints, revocation_url=revocation) if revocation else endpoints

    def state_key(self) -> bytes:
        name = self.settings.oauth_state_key_secret
        if not name:
            raise _not_configured("TB_OAUTH_STATE_KEY_SECRET is not set", "")
        value = self._secret(name, transform=None)
        key = value.encode("utf-8") if isinstance(value, str) else bytes(value or b"")
        if len(key) < MIN_STATE_KEY_BYTES:
            raise _not_configured(f"the state key is shorter than {MIN_STATE_KEY_BYTES} bytes", name)
        return key

    def app(self, redirect_uri: str = "") -> oauth_jira.OAuthApp:
        """The app; ``redirect_uri`` matters only to authorize and exchange (a refresh does not send it)."""
        name = self.settings.jira_oauth_app_secret
        if not name:
            raise _not_configured("TB_JIRA_OAUTH_APP_SECRET is not set", "")
        value = self._secret(name, transform="json")
        client_id = value.get("client_id") if isinstance(value, Mapping) else None
        client_secret = value.get("client_secret") if isinstance(value, Mapping) else None
        if not isinstance(client_id, str) or not client_id or not isinstance(client_secret, str):
            raise _not_configured("the app secret needs client_id and client_secret", name)
        return oauth_jira.OAuthApp(
            client_id=client_id,
            client_secret=SecretStr(client_secret),
            redirect_uri=self.settings.jira_oauth_redirect_uri or redirect_uri,
            endpoints=self.endpoints(),
        )


def redirect_uri_for(event: Mapping[str, Any]) -> str:
    """``<scheme>://<host><stage prefix>/v1/oauth/jira/callback`` of the API that received ``event``.

    On execute-api hosts ``requestContext.path`` carries the stage (``/v1/v1/oauth/...``) while ``path``
    does not; behind a custom domain (and on the local gateway) the two are equal. Start and callback reach
    the same API, so both derive the same URI, which is what the token exchange requires.
    """
    context = event.get("requestContext") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    host = str(context.get("domainName") or headers.get("host") or "")
    scheme = headers.get("x-forwarded-proto", "https").split(",")[0].strip() or "https"
    full, path = str(context.get("path") or ""), str(event.get("path") or "")
    prefix = full[: -len(path)] if path and full.endswith(path) else ""
    return f"{scheme}://{host}{prefix}{CALLBACK_PATH}"


@dataclass(frozen=True, slots=True)
class Revocation:
    connection: Connection
    revoked_at_provider: bool
    forgot_tokens: bool


_START_AGAIN = "Call POST /v1/oauth/jira/start again and follow the new URL from the same browser."


def _state_invalid() -> InvalidInput:
    return InvalidInput(
        "the OAuth state is invalid: start the authorization again",
        code="OAUTH_STATE_INVALID",
        guidance=_START_AGAIN,
    )


def _state_used() -> InvalidInput:
    return InvalidInput(
        "this authorization was already completed or attempted: its state can be used only once",
        code="OAUTH_STATE_USED",
        guidance=_START_AGAIN,
    )


def _nonce_refused(*, missing: bool) -> InvalidInput:
    where = (
        "the tb_oauth_nonce cookie that POST /v1/oauth/jira/start set, or the "
        f"{SESSION_NONCE_HEADER} header with the nonce it returned"
    )
    if missing:
        return InvalidInput(
            f"the OAuth callback must come from whoever started the authorization: send {where}",
            code="OAUTH_NONCE_MISSING",
            guidance="Open the authorization URL in the browser that called start (cookies enabled), "
            f"or present the start's nonce in the {SESSION_NONCE_HEADER} header.",
        )
    return InvalidInput(
        "the OAuth callback's session nonce does not belong to this authorization",
        code="OAUTH_NONCE_MISMATCH",
        guidance=_START_AGAIN,
    )


class JiraOAuthService:
    def __init__(
        self,
        *,
        config: JiraOAuthConfig,
        connections: ConnectionRepository,
        audit: AuditRepository,
        states: OAuthStateRepository,
        secrets: ConnectionSecrets,
        store_for: Callable[[str], SecretsManagerTokenStore],
        http: httpx.Client,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.connections = connections
        self.audit = audit
        self.states = states
        self.secrets = secrets
        self.store_for = store_for
        self.http = http
        self.clock = clock

    def _connection(self, tenant: str, connection_id: str) -> Connection:
        if not is_id(IdPrefix.CONNECTION, connection_id):
            raise NotFound(f"no connection {connection_id!r}", details={"id": connection_id})
        connection = self.connections.get(tenant, connection_id)
        if not tracker(connection.provider).allows_oauth:
            raise ValidationFailed(
                f"OAuth 2.0 (3LO) is for Jira connections; {connection_id} is a {connection.provider} one",
                code="OAUTH_UNSUPPORTED_PROVIDER",
                details={"provider": connection.provider, "supported": sorted(OAUTH_PROVIDERS)},
            )
        return connection

    def store(self, tenant: str, connection_id: str) -> SecretsManagerTokenStore:
        return self.store_for(self.secrets.oauth_tokens_name(tenant, connection_id))

    # -- start --------------------------------------------------------------------------------------------

    def start(self, tenant: str, connection_id: str, *, redirect_uri: str) -> oauth_jira.AuthorizationStart:
        """The authorization URL, its state recorded for one use, and the session nonce for the caller."""
        self._connection(tenant, connection_id)
        now = self.clock()
        started = oauth_jira.start_authorization(
            self.config.app(redirect_uri),
            tenant=tenant,
            connection_id=connection_id,
            state_key=self.config.state_key(),
            now=now,
        )
        self.states.issue(
            tenant,
            IssuedOAuthState(
                state_id=oauth_jira.state_id(started.state),
                connection_id=connection_id,
                nonce_hash=oauth_jira.session_nonce_hash(started.session_nonce),
                created_at=now,
                expires_at=started.expires_at,
            ),
        )
        logger.info("oauth.jira.started", extra={"tenant": tenant, "connection_id": connection_id})
        return started

    # -- callback -----------------------------------------------------------------------------------------

    def complete(
        self,
        query: Mapping[str, str],
        *,
        session_nonce: str | None,
        redirect_uri: str,
        request_id: str | None,
    ) -> Connection:
        """Complete the authorization ``query`` (the callback's ``code`` and ``state``) names, for the
        caller holding ``session_nonce``; the state is spent before the code is exchanged."""
        oauth_jira.raise_for_callback_error(query)
        code, state = query.get("code"), query.get("state")
        if not code or not state:
            raise InvalidInput(
                "the OAuth callback needs both code and state",
                code="OAUTH_CALLBACK_INCOMPLETE",
                details={"missing": [name for name in ("code", "state") if not query.get(name)]},
                guidance="Open the authorization_url that POST /v1/oauth/jira/start returns.",
            )
        key = self.config.state_key()
        now = self.clock()
        claims = oauth_jira.verify_state(state, key, now=now)
        self._consume_state(claims, state, session_nonce, now=now)
        connection = self._connection(claims.tenant, claims.connection_id)
        store = self.store(claims.tenant, connection.id)
        app = self.config.app(redirect_uri)
        try:
            _, tokens = oauth_jira.complete_authorization(
                app,
                self.http,
                code=code,
                state=state,
                state_key=key,
                site_url=self._site_hint(connection, store, app.endpoints),
                now=now,
            )
        except TrackerError as exc:
            raise api_error(exc) from None
        self._store_authorized(store, tokens)
        if connection.auth != "oauth":
            # An API-token connection switching to OAuth: its old token must stop being used.
            self.secrets.put_credentials(
                claims.tenant, connection.id, OAuthCredentials(auth="oauth"), new=False
            )
        actor = Actor(id="oauth:jira", request_id=request_id)
        updated = self._update(
            claims.tenant,
            connection.id,
            actor,
            action="connection.oauth_connected",
            fields={
                "base_url": tokens.api_base_url(app.endpoints),
                "site_url": tokens.site_url.rstrip("/") or None,
                "auth": "oauth",
                "has_credentials": True,
            },
        )
        logger.info(
            "oauth.jira.connected",
            extra={"tenant": claims.tenant, "connection_id": connection.id, "cloud_id": tokens.cloud_id},
        )
        return updated

    def _consume_state(
        self, claims: oauth_jira.AuthorizationState, state: str, session_nonce: str | None, *, now: datetime
    ) -> None:
        """Spend the issued state for this caller, or raise the 400 that says why not.

        The record is read under the tenant the signed state names: a state issued to another tenant, or
        signed without being issued (a leaked key), is simply not there. A missing or wrong nonce leaves the
        state unconsumed: if it burnt the state, anyone who saw the victim's authorization URL could spoil
        the victim's flow with one request, whereas keeping it costs nothing, since the nonce is 256 random
        bits and cannot be guessed however often one tries before the state expires (10 minutes). The read
        serves the constant-time nonce check and a precise error; the race between two callbacks is settled
        by the conditional write alone.
        """
        if not session_nonce:
            raise _nonce_refused(missing=True)
        issued = self.states.get(claims.tenant, oauth_jira.state_id(state))
        if issued is None or issued.connection_id != claims.connection_id:
            raise _state_invalid()
        if not oauth_jira.session_nonce_matches(session_nonce, issued.nonce_hash):
            raise _nonce_refused(missing=False)
        if issued.consumed or not self.states.consume(
            claims.tenant, issued.state_id, connection_id=claims.connection_id, now=now
        ):
            logger.warning(
                "oauth.jira.state_reused",
                extra={"tenant": claims.tenant, "connection_id": claims.connection_id},
            )
            raise _state_used()

    @staticmethod
    def _site_hint(
        connection: Connection, store: SecretsManagerTokenStore, endpoints: oauth_jira.OAuthEndpoints
    ) -> str | None:
        """The site the user must grant: the connection's own site URL, or the one its tokens were for."""
        if connection.site_url:
            return connection.site_url
        gateway_prefix = endpoints.api_base_template.split("{cloud_id}", 1)[0]
        if not connection.base_url.startswith(gateway_prefix):
            return connection.base_url
        previous = store.load()
        return previous.site_url if previous is not None and previous.site_url else None

    @staticmethod
    def _store_authorized(store: SecretsManagerTokenStore, tokens: oauth_jira.TokenSet) -> None:
        # A new authorization replaces whatever is stored; a refresh racing with it only costs a retry.
        for _ in range(WRITE_ATTEMPTS):
            if store.compare_and_swap(store.load(), tokens):
                return
        raise Conflict("the connection's OAuth tokens kept changing while storing new ones; try again")

    def _update(
        self,
        tenant: str,
        connection_id: str,
        actor: Actor,
        *,
        action: str,
        fields: dict[str, Any],
    ) -> Connection:
        """Set ``fields`` with optimistic locking and one audit entry; retried when an edit raced it."""
        for attempt in range(WRITE_ATTEMPTS):
            current = self.connections.get(tenant, connection_id)
            now = self.clock()
            updated = current.model_copy(update={**fields, "updated_at": now, "version": current.version + 1})
            entry = new_entry(
                action=action,
                target=connection_id,
                actor=actor,
                at=now,
                changes=diff(
                    current.public_fields(), updated.public_fields(), secrets_changed=("oauth_tokens",)
                ),
            )
            try:
                return self.connections.replace(
                    tenant,
                    updated,
                    expected_version=current.version,
                    also=(self.audit.put_op(tenant, entry),),
                )
            except Conflict:
                if attempt + 1 == WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable: the loop returns or raises")

    # -- revoke -------------------------------------------------------------------------------------------

    def revoke(self, tenant: str, connection_id: str, actor: Actor) -> Revocation:
        """Revoke at the authorization server where it has an endpoint, then forget the stored tokens."""
        connection = self._connection(tenant, connection_id)
        store = self.store(tenant, connection.id)
        revoked_at_provider = forgot = False
        for _ in range(WRITE_ATTEMPTS):
            current = store.load()
            if current is None:
                break
            if not revoked_at_provider and self.config.endpoints().revocation_url:
                try:
                    revoked_at_provider = oauth_jira.revoke_token(self.config.app(), self.http, current)
                except TrackerError as exc:
                    # Forget the tokens regardless: a user who asked to disconnect is disconnected here.
                    logger.warning(
                        "oauth.jira.revoke_failed",
                        extra={"tenant": tenant, "connection_id": connection_id, "code": str(exc.code)},
                    )
            if store.forget(current):
                forgot = True
                break
        else:
            raise Conflict("the connection's OAuth tokens kept changing while revoking them; try again")
        updated = connection
        if connection.has_credentials or forgot:
            updated = self._update(
                tenant,
                connection.id,
                actor,
                action="connection.oauth_revoked",
                fields={"has_credentials": False},
            )
        logger.info(
            "oauth.jira.revoked",
            extra={"tenant": tenant, "connection_id": connection_id, "at_provider": revoked_at_provider},
        )
        return Revocation(updated, revoked_at_provider=revoked_at_provider, forgot_tokens=forgot)


__all__ = [
    "CALLBACK_PATH",
    "SESSION_NONCE_COOKIE",
    "SESSION_NONCE_HEADER",
    "JiraOAuthConfig",
    "JiraOAuthService",
    "Revocation",
    "api_error",
    "redirect_uri_for",
]
