"""What each handler's cold start imports: what a request path does not need stays out (issue 14).

Each case imports one handler in a fresh interpreter and reads ``sys.modules``; no timing is asserted
(``benchmarks/cold_imports.py`` measures the time). The modules named here are the ones made lazy: the
tracker adapters with the ADF converter and markdown-it (imported when a tracker is called), the sync engine
outside the sync function, the API outside the API, Powertools' OpenAPI models (imported when the document is
generated) and the X-Ray SDK while tracing is off. The API also leaves out httpx and every provider module
but the error family its error mapping needs (``runtime.api.errors``), and the services its routes reach
through the container (tracker actions' adapters, the OAuth flow, the connection service with the secrets
store): each is imported with the first request that needs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TRACKERS = (
    "markdown_it",
    "trackbridge.providers.registry",
    "trackbridge.providers.adf",
    "trackbridge.providers.jira",
    "trackbridge.providers.github",
    "trackbridge.providers.gitlab",
)
XRAY = "aws_xray_sdk.core"
OPENAPI_MODELS = "aws_lambda_powertools.event_handler.openapi.models"

LEFT_OUT = {
    "api": (
        *TRACKERS,
        "httpx",
        "httpcore",
        "trackbridge.providers.base",
        "trackbridge.providers.types",
        "trackbridge.providers.pagination",
        "trackbridge.providers.oauth_jira",
        "trackbridge.runtime.adapter_pool",
        "trackbridge.runtime.jira_oauth",
        "trackbridge.runtime.connections",
        "trackbridge.runtime.secrets",
        "trackbridge.runtime.sync",
        XRAY,
        OPENAPI_MODELS,
    ),
    "authorizer": (
        *TRACKERS,
        "httpx",
        "trackbridge.providers",
        "trackbridge.runtime.api",
        "trackbridge.runtime.sync",
        "aws_lambda_powertools.event_handler",
        XRAY,
    ),
    "sync": ("trackbridge.runtime.api", "aws_lambda_powertools.event_handler", XRAY),
}


def _env(**changes: str | None) -> dict[str, str]:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    env.pop("LAMBDA_TASK_ROOT", None)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _run(code: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _imported_by(module: str) -> set[str]:
    code = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))"
    return set(json.loads(_run(code, _env())))


def _loaded(modules: set[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


@pytest.mark.parametrize("handler", sorted(LEFT_OUT))
def test_a_cold_start_leaves_out_what_its_requests_do_not_need(handler: str) -> None:
    # Given a fresh interpreter with the embedded stack's settings (tracing off)
    # When it imports the handler
    modules = _imported_by(f"functions.{handler}")

    # Then none of the modules made lazy for it is loaded
    assert [name for name in LEFT_OUT[handler] if _loaded(modules, name)] == []


# The provider modules the API may load at cold start: the package and the error family, which
# ``runtime.api.errors`` (the one error mapping) imports to answer a tracker's refusal.
API_PROVIDER_MODULES = {"trackbridge.providers", "trackbridge.providers.errors"}


def test_the_api_cold_start_loads_no_tracker_client_and_no_adapter_code() -> None:
    # Given a fresh interpreter
    # When it imports the API handler
    modules = _imported_by("functions.api")

    # Then no HTTP client is loaded, and of the providers package at most its error family
    assert not _loaded(modules, "httpx")
    assert {m for m in modules if _loaded({m}, "trackbridge.providers")} <= API_PROVIDER_MODULES


def test_the_api_tracker_action_bodies_build_their_values_after_a_cold_start() -> None:
    # Given the API handler, imported cold (no provider module loaded)
    code = (
        "import json, sys\n"
        "import functions.api\n"
        "from trackbridge.runtime.api.action_models import IssueCreate, IssuePatch, bulk_items\n"
        "before = 'trackbridge.providers.types' in sys.modules\n"
        "draft = IssueCreate(title='t', labels=['a']).draft()\n"
        "changes = IssuePatch(add_labels=['b']).changes()\n"
        "items = bulk_items([{'op': 'create', 'title': 'u'}, {'op': 'update', 'key': '7', 'title': 'v'},\n"
        "                    {'op': 'update'}])\n"
        "update = items[1]\n"
        "print(json.dumps({'before': before, 'draft': [type(draft).__module__, draft.title, draft.labels],\n"
        "                  'changes': [type(changes).__name__, changes.add_labels, changes.empty],\n"
        "                  'items': [type(i).__name__ for i in items],\n"
        "                  'update': [update.key, type(update.changes).__name__, update.changes.title]}))"
    )
    # When request bodies turn into the use cases' values
    out = json.loads(_run(code, _env()))

    # Then the adapter vocabulary is imported on that first use and the values are the same as ever
    assert out["before"] is False
    assert out["draft"] == ["trackbridge.providers.types", "t", ["a"]]
    assert out["changes"] == ["IssueChanges", ["b"], False]
    assert out["items"] == ["IssueDraft", "IssueUpdate", "ValidationFailed"]
    assert out["update"] == ["7", "IssueChanges", "v"]


def test_the_lazy_modules_still_load_where_they_are_needed() -> None:
    # Given the API handler, imported cold
    code = (
        "import json, sys\n"
        "import functions.api\n"
        "from trackbridge.runtime.api.app import openapi_document\n"
        "document = openapi_document()\n"
        "from trackbridge.providers.registry import describe_providers\n"
        "print(json.dumps({'tags': [t['name'] for t in document['tags']],\n"
        "                  'schemes': sorted(document['components']['securitySchemes']),\n"
        "                  'providers': [p['name'] for p in describe_providers()],\n"
        "                  'models': 'aws_lambda_powertools.event_handler.openapi.models' in sys.modules}))"
    )
    # When the OpenAPI document is generated and the provider registry is asked for
    out = json.loads(_run(code, _env()))

    # Then the document carries the configuration applied on first use, and the registry answers
    assert out["models"] is True
    assert {"connections", "oauth"} <= set(out["tags"])
    assert out["schemes"] == ["bearer"]
    assert {"github", "gitlab", "jira"} <= set(out["providers"])


def test_with_tracing_on_the_tracer_is_powertools_x_ray_one() -> None:
    # Given a Lambda environment with tracing on
    env = _env(LAMBDA_TASK_ROOT=str(ROOT), POWERTOOLS_TRACE_DISABLED=None)
    code = (
        "import sys\n"
        "from trackbridge.runtime.observability import tracer\n"
        "print(type(tracer.provider).__module__, tracer.disabled, 'aws_xray_sdk.core' in sys.modules)"
    )
    # When observability is imported
    provider_module, disabled, xray_loaded = _run(code, env).split()

    # Then the Tracer records through the X-Ray SDK, as before
    assert provider_module.startswith("aws_xray_sdk")
    assert (disabled, xray_loaded) == ("False", "True")


def test_with_tracing_off_a_traced_handler_still_runs() -> None:
    # Given tracing off (the no-op provider)
    from trackbridge.runtime.observability import NoTracing, tracer

    assert isinstance(tracer.provider, NoTracing)

    # When a function decorated by the Tracer is called
    @tracer.capture_method
    def double(value: int) -> int:
        return value * 2

    # Then it runs and answers as undecorated
    assert double(21) == 42


def test_the_benchmark_names_every_handler_and_prints_its_row(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import cold_imports

    # Given the handlers in functions/ and the baselines the benchmark declares
    handlers = cold_imports.handler_names()
    assert {"api", "authorizer", "sync", "webhook"} <= set(handlers)
    assert set(cold_imports.NEEDS) <= set(handlers)

    # When the benchmark runs once for one small handler
    assert cold_imports.main(["--runs", "1", "--top", "2", "--handler", "webhook"]) == 0

    # Then it prints the handler's row with its baseline and the target (times are not asserted)
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("webhook "))
    assert row.split()[-2:] in (["1.5x", "ok"], ["1.5x", "OVER"])


def _runtime_distributions() -> set[str]:
    """The distributions the Lambda layer ships: pyproject's runtime dependencies and all they require."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    todo, shipped = [Requirement(raw) for raw in declared], set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in shipped:
            continue
        shipped.add(name)
        try:
            required = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (another platform's): it requires nothing we could hide
        extras = requirement.extras or {""}
        for raw in required:
            sub = Requirement(raw)
            if sub.marker is None or any(sub.marker.evaluate({"extra": extra}) for extra in extras):
                todo.append(sub)
    return shipped


def test_the_benchmark_hides_only_what_the_layer_does_not_ship() -> None:
    from benchmarks import cold_imports

    # Given the distributions the Lambda layer ships
    shipped = _runtime_distributions()
    assert {"httpx", "httpcore", "boto3", "pydantic", "aws-lambda-powertools", "aws-xray-sdk"} <= shipped

    # When the benchmark's children import httpx
    _, roots = cold_imports.timed(("httpx",), cold_imports.child_env())

    # Then what they hide is none of it, and httpx imports without it (its command line left out)
    assert not set(cold_imports.NOT_SHIPPED) & shipped
    assert "httpx" in roots
    assert not set(cold_imports.NOT_SHIPPED) & roots
