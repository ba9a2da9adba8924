"""The embedded stack: every part of trackbridge's AWS shape, in one process, on loopback.

Start order follows the dependencies: moto, then the resources on it, then the process environment the
in-process handlers read, then everything that invokes handlers (pollers, scheduler, alarm bridge, API
gateway), then the sandbox trackers, then demo data. ``local.json`` is written only once every part
answers, so a script that waits for the file can use it at once. ``stop()`` undoes all of it in reverse,
restores the environment and removes the file; it is safe to call twice or after a failed start.

moto's state is process-global, so two stacks in one process (tests) must use different stages.

The outbound policy (``TB_ALLOWED_PRIVATE_NETWORKS``) is set to exactly the sandbox trackers' loopback
host and ports (their API and, for Jira, the OAuth server and gateway): the embedded API reaches its
sandboxes and nothing else on loopback, not moto, not the gateway, not a developer's own services.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from botocore.exceptions import ClientError

from infra.definition import (
    ALLOWED_PRIVATE_NETWORKS_ENV,
    JIRA_OAUTH_BASE_URL_ENV,
    jira_oauth_app_secret_name,
    secrets_prefix,
)
from infra.local.alarms import AlarmBridge
from infra.local.apigw import LocalApiGateway
from infra.local.invoke import Handler, LocalFunctions
from infra.local.moto import MotoServer
from infra.local.pollers import QueuePollers
from infra.local.provision import LocalResources, provision
from infra.local.scheduler import LocalScheduler, utc_now

logger = logging.getLogger(__name__)

DEMO_TENANT = "demo"
STATE_FILE = "local.json"
READY_TIMEOUT_S = 60.0


class SandboxCluster(Protocol):
    """What ``infra.local.trackers.start_sandboxes`` returns."""

    def describe(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...


def _default_issue_api_key(tenant: str) -> str:
    from trackbridge.runtime.api_keys import issue_api_key

    return str(issue_api_key(tenant))


def _default_start_sandboxes(seed: str) -> SandboxCluster:
    from infra.local.trackers import start_sandboxes

    cluster: SandboxCluster = start_sandboxes(seed=seed)
    return cluster


def _reset_runtime() -> None:
    """Forget every client, setting and service the runtime cached under the previous environment."""
    from trackbridge.runtime import container

    container.reset()


def _port_answers(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=1):
            return True
    except OSError:
        return False


def sandbox_allowlist(trackers: Mapping[str, Any]) -> str:
    """The ``TB_ALLOWED_PRIVATE_NETWORKS`` value that lets trackbridge reach exactly these sandboxes: one
    ``address/32:port`` entry per URL in their ``describe()`` entries (``url``, ``oauth_url``...)."""
    from trackbridge.domain.egress import AllowedNetwork, parse_ip_literal

    entries: list[str] = []
    for tracker in trackers.values():
        if not isinstance(tracker, Mapping):
            continue
        for key, value in tracker.items():
            if not (key.endswith("url") and isinstance(value, str) and value.startswith("http")):
                continue
            parts = urlsplit(value)
            address = parse_ip_literal(parts.hostname or "")
            if address is None or parts.port is None:
                logger.warning("local.sandbox_not_allowlisted: %s is not an address and a port", value)
                continue
            entry = str(AllowedNetwork(ipaddress.ip_network(address), parts.port))
            if entry not in entries:
                entries.append(entry)
    return ",".join(entries)


def seed_demo_connections(stack: LocalStack) -> None:
    """One connection per running sandbox tracker for the demo tenant, named ``{provider}-sandbox``.

    Each sandbox class builds its own connection body from its ``describe()`` entry
    (``connection_request_for``), so nothing here knows a tracker by name.
    """
    from infra.local.trackers import SANDBOXES
    from trackbridge.domain.audit import Actor
    from trackbridge.domain.connections import ConnectionCreate
    from trackbridge.runtime import container

    trackers = stack.sandboxes.describe() if stack.sandboxes is not None else {}
    for provider, sandbox in SANDBOXES.items():
        tracker = trackers.get(provider)
        if not isinstance(tracker, Mapping) or not tracker.get("url") or not tracker.get(sandbox.scope_key):
            continue
        request = sandbox.connection_request_for(tracker, webhook_secret=True)
        body = ConnectionCreate.model_validate(request)
        connection = container.connection_service().create(DEMO_TENANT, body, Actor(id="local-up"))
        stack.demo_connections[provider] = connection.id


class LocalStack:
    """moto + local API Gateway + pollers + scheduler + alarm bridge (+ sandbox trackers), on 127.0.0.1."""

    def __init__(
        self,
        *,
        port: int = 8000,
        with_sandbox: bool = True,
        seed: str = "demo",
        state_dir: Path = Path(".trackbridge"),
        functions: Mapping[str, Handler] | None = None,
        stage: str = "local",
        region: str = "us-east-1",
        visibility_timeout_s: int | None = None,
        scheduler_clock: Callable[[], datetime] = utc_now,
        issue_api_key: Callable[[str], str] | None = None,
        start_sandboxes: Callable[[str], SandboxCluster] | None = None,
        seeders: Sequence[Callable[[LocalStack], None]] | None = None,
    ) -> None:
        """``functions`` replaces handlers by key (tests); ``seeders`` run after the demo key exists.

        ``seeders`` is where demo data beyond the tenant and key goes (the sandbox trackers' demo
        connections): each gets the running stack, with ``api_url``, ``api_key`` and ``sandboxes``.
        """
        self._port = port
        self._with_sandbox = with_sandbox
        self.seed = seed
        self.state_dir = Path(state_dir)
        self._overrides = dict(functions or {})
        self.stage, self.region = stage, region
        self._visibility_timeout_s = visibility_timeout_s
        self._scheduler_clock = scheduler_clock
        self._issue_api_key = issue_api_key or _default_issue_api_key
        self._start_sandboxes = start_sandboxes or _default_start_sandboxes
        # By default the demo tenant gets one connection per sandbox tracker, so `trackbridge sync
        # github-sandbox --wait` works right after `make up`.
        self._seeders = tuple(seeders) if seeders is not None else (seed_demo_connections,)
        self.demo_connections: dict[str, str] = {}

        self.moto: MotoServer | None = None
        self.resources: LocalResources | None = None
        self.functions: LocalFunctions | None = None
        self.pollers: QueuePollers | None = None
        self.scheduler: LocalScheduler | None = None
        self.alarm_bridge: AlarmBridge | None = None
        self.gateway: LocalApiGateway | None = None
        self.sandboxes: SandboxCluster | None = None
        self.api_key: str | None = None
        self.startup_s: float | None = None
        # What TB_ALLOWED_PRIVATE_NETWORKS is while the stack runs (the sandboxes' host:ports), else "".
        self.egress_allowlist = ""
        self._saved_env: dict[str, str | None] = {}
        self._wrote_state = False

    # ------------------------------------------------------------------------------------ properties

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    @property
    def api_url(self) -> str:
        if self.gateway is None:
            raise RuntimeError("the stack is not running")
        return self.gateway.api_url

    def describe(self) -> dict[str, Any]:
        """The content of ``local.json`` (DESIGN section 9)."""
        if self.resources is None or self.api_key is None:
            raise RuntimeError("the stack is not running")
        return {
            "api_url": self.api_url,
            "api_key": self.api_key,
            "aws_endpoint_url": self.resources.endpoint_url,
            "region": self.resources.region,
            "table": self.resources.table_name,
            "stage": self.stage,
            "secrets_prefix": secrets_prefix(self.stage),
            # The outbound allowlist the stack runs with (its sandboxes), for CLI commands that call trackers.
            "allowed_private_networks": self.egress_allowlist,
            "trackers": self.sandboxes.describe() if self.sandboxes is not None else {},
            # The demo connections by name, so scripts and the CLI can say `github-sandbox`.
            "connections": {f"{provider}-sandbox": cid for provider, cid in self.demo_connections.items()},
        }

    # ------------------------------------------------------------------------------------- lifecycle

    def start(self) -> LocalStack:
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - started
        logger.info("local.started in %.2f s at %s", self.startup_s, self.api_url)
        return self

    def _start(self) -> None:
        self.moto = MotoServer().start()
        self.resources = provision(endpoint_url=self.moto.endpoint_url, region=self.region, stage=self.stage)
        self._apply_environment(self.resources.environment())

        self.functions = LocalFunctions(self._overrides, stage=self.stage, region=self.region)
        self.pollers = QueuePollers(
            self.resources, self.functions, visibility_timeout_s=self._visibility_timeout_s
        ).start()
        self.scheduler = LocalScheduler(self.resources, self.functions, clock=self._scheduler_clock).start()
        self.alarm_bridge = AlarmBridge(
            cloudwatch=self.resources.client("cloudwatch"), events=self.resources.client("events")
        ).start()
        self.gateway = LocalApiGateway(self.functions, port=self._port, region=self.region).start()
        # Exactly the sandboxes (none without them): whatever the surrounding environment allowed is
        # set aside until stop().
        trackers: dict[str, Any] = {}
        if self._with_sandbox:
            self.sandboxes = self._start_sandboxes(self.seed)
            trackers = self.sandboxes.describe()
            self._configure_sandbox_oauth(trackers)
        self.egress_allowlist = sandbox_allowlist(trackers)
        self._apply_environment({ALLOWED_PRIVATE_NETWORKS_ENV: self.egress_allowlist})
        # CloudWatch alarms name no tenant: here they are the demo tenant's, whose rules and connections
        # `local up` seeds (Settings.auto_issue_tenant, TB_AUTO_ISSUE_TENANT; "default" otherwise).
        from trackbridge.runtime.settings import AUTO_ISSUE_TENANT_ENV

        self._apply_environment({AUTO_ISSUE_TENANT_ENV: DEMO_TENANT})

        self.api_key = self._issue_api_key(DEMO_TENANT)
        for seeder in self._seeders:
            seeder(self)
        self._wait_until_ready()
        self._write_state()

    def stop(self) -> None:
        """Stop every part that runs, in reverse order; restore the environment; remove local.json."""
        if self._wrote_state:
            # Only our own file: a failed second start must not remove a running stack's local.json.
            self.state_file.unlink(missing_ok=True)
            self._wrote_state = False
        if self.gateway is not None:
            self.gateway.stop()
        # Background loops wind down in parallel: signal all, then join each.
        loops = [part for part in (self.pollers, self.scheduler, self.alarm_bridge) if part is not None]
        for loop in loops:
            loop.signal_stop()
        for loop in loops:
            loop.stop()
        if self.sandboxes is not None:
            try:
                self.sandboxes.stop()
            except Exception:
                logger.exception("local.sandbox_stop_failed")
        if self.moto is not None:
            self.moto.stop()
        self._restore_environment()
        self.gateway = self.pollers = self.scheduler = self.alarm_bridge = None
        self.sandboxes = self.moto = None
        self.functions = self.resources = None
        self.api_key = None
        self.egress_allowlist = ""

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --------------------------------------------------------------------------------------- helpers

    def _apply_environment(self, environment: Mapping[str, str]) -> None:
        # The handlers run in this process and read settings from os.environ; remember what was there.
        for name, value in environment.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        _reset_runtime()

    def _configure_sandbox_oauth(self, trackers: Mapping[str, Any]) -> None:
        """Point Jira OAuth at the Jira sandbox's authorization server and register its app's credentials.

        The state key is already there (``provision``); the redirect URI is derived from the local
        gateway's own address per request, a loopback URL, which is all the sandbox accepts.
        """
        jira = trackers.get("jira")
        if self.resources is None or not isinstance(jira, Mapping) or not jira.get("oauth_url"):
            return
        app = json.dumps({"client_id": jira["client_id"], "client_secret": jira["client_secret"]})
        name = jira_oauth_app_secret_name(self.stage)
        client = self.resources.client("secretsmanager")
        try:
            client.create_secret(Name=name, SecretString=app, Description="the Jira sandbox's OAuth app")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceExistsException":
                raise
            client.put_secret_value(SecretId=name, SecretString=app)
        self._apply_environment({JIRA_OAUTH_BASE_URL_ENV: str(jira["oauth_url"])})

    def _restore_environment(self) -> None:
        if not self._saved_env:
            return
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        _reset_runtime()

    def _wait_until_ready(self) -> None:
        """Every part answers: moto serves AWS calls, the gateway serves HTTP, the sandboxes listen."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        sandbox_urls = [
            str(tracker["url"])
            for tracker in (self.sandboxes.describe() if self.sandboxes is not None else {}).values()
            if isinstance(tracker, Mapping) and tracker.get("url")
        ]
        pending = ["moto", "gateway", *sandbox_urls]
        with httpx.Client(timeout=2.0) as client:
            while pending and time.monotonic() < deadline:
                pending = [part for part in pending if not self._answers(part, client)]
                if pending:
                    time.sleep(0.05)
        if pending:
            raise RuntimeError(f"the embedded stack did not come up: no answer from {pending}")

    def _answers(self, part: str, client: httpx.Client) -> bool:
        assert self.resources is not None
        assert self.gateway is not None
        try:
            if part == "moto":
                self.resources.client("sqs").list_queues(QueueNamePrefix=self.resources.table_name)
                return True
            if part == "gateway":
                # The gateway itself answers an unknown route; no handler runs.
                return client.get(f"{self.gateway.url}/").status_code == 404
        except Exception:
            return False
        return _port_answers(part)

    def _write_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self.describe(), indent=2) + "\n"
        # The file holds the demo API key and sandbox tokens: owner-only from the first byte.
        descriptor = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(payload)
        os.chmod(self.state_file, 0o600)
        self._wrote_state = True


__all__ = ["DEMO_TENANT", "LocalStack", "SandboxCluster", "sandbox_allowlist"]
