"""Fixtures shared by every test layer.

``moto_endpoint`` runs moto's real HTTP server on loopback for the whole session (as the embedded stack does),
so integration tests exercise boto3's wire path, not in-process mocks. Fake credentials are forced so no test
can ever reach a real AWS account.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from infra.local.provision import LocalResources

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
# Never let a test talk to a real account, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_REGION"] = "us-east-1"
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "trackbridge")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "trackbridge")


_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _local_only_getaddrinfo(real: Any) -> Any:
    """``socket.getaddrinfo`` for tests: address literals and ``localhost`` only. No test may send a DNS
    query off this machine (a fuzzed connection's ``https://x7q.dev`` would go to the system's name
    server); any other name fails at once, as an unknown name does (socket.gaierror)."""

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or str(name).lower().rstrip(".") in _LOCAL_NAMES:
            return real(host, *args, **kwargs)
        try:
            ipaddress.ip_address(str(name).split("%")[0])
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no names: {name}") from None
        return real(host, *args, **kwargs)

    return getaddrinfo


socket.getaddrinfo = _local_only_getaddrinfo(socket.getaddrinfo)


# Client timeouts for AWS calls made in this process: patient, as on a loaded 2-core CI machine moto needs to
# be. The product's own (3 s connect, 10 s read) fit DynamoDB, which answers in milliseconds; moto runs in the
# test process and shares its two cores with the other worker and whatever else the machine runs. Under load
# (load average ~25) a TransactWriteItems took longer than 10 s, botocore retried it, and the retry found the
# first attempt's writes already there: ConditionalCheckFailed, so an API key "already existed", a sync "was
# already running". (DynamoDB would have answered the retried transaction as the first by its
# ClientRequestToken; moto does not.) Tests assert what was written, not how fast: a request may take as long
# as it takes, and the per-test timeout ends a hung one. Every client reads these when it is built (the
# functions' through their settings, the local stack's in infra.local.provision), so setting them before any
# client exists is enough; moto's DynamoDB is serialized by infra.local.moto.MotoServer itself.
PATIENT_AWS_TIMEOUTS = {"TB_AWS_CONNECT_TIMEOUT_S": "60", "TB_AWS_READ_TIMEOUT_S": "300"}
os.environ.update(PATIENT_AWS_TIMEOUTS)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert SHARED.is_dir(), f"shared/ must sit beside the repository: {SHARED}"
    return SHARED


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server on a free loopback port, for the whole session: the embedded stack's own
    (``infra.local.moto.MotoServer``), so tests run moto as ``make up`` does."""
    from infra.local.moto import MotoServer

    server = MotoServer().start()
    try:
        yield server.endpoint_url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_resources(moto_endpoint: str) -> LocalResources:
    """The local stage's resources on the session's moto, provisioned once; the process env points at them.

    Tests isolate themselves with unique tenant ids rather than fresh tables.
    """
    from infra.local.provision import provision
    from trackbridge.runtime import container

    resources = provision(endpoint_url=moto_endpoint)
    os.environ.update(resources.environment())
    # container.reset() also runs trackbridge.runtime.aws.reset_clients(), and forgets cached services.
    container.reset()
    return resources


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``--dist loadgroup`` honour ``xdist_group`` under pytest 9.

    pytest-xdist 3.8 appends ``@group`` to ``item._nodeid``, but pytest 9 builds ``nodeid`` from
    ``item._id``, so the suffix is lost and grouped tests (one CDK synth, one shared stack) scatter over
    workers. This re-applies the suffix where pytest reads it; with a pytest whose ``nodeid`` already carries
    it, it does nothing.
    """
    if not config.pluginmanager.hasplugin("xdist") or not config.getoption("loadgroup", default=False):
        return
    try:
        from _pytest.nodeid import coerce_node_id  # private, pytest >= 9
    except ImportError:
        return
    for item in items:
        marks = item.iter_markers("xdist_group")
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks})
        if names and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")  # type: ignore[attr-defined]
