"""Auto-issue rules and templates: ``CRUD /v1/rules``, ``POST /v1/rules:from-builtin`` (the default rules),
``POST /v1/rules/{name}/test`` (dry run), ``CRUD /v1/templates`` and ``POST /v1/templates/{name}/preview``.

Scopes: ``rules:write`` to change, ``rules:read`` to read, test and preview. A rule or template is validated
when saved (syntax, unknown variables, sandbox violations: 422 with the field and line; for a Jira target, the
project's create screen: 422 naming the field); a replace carries the ``version`` it read, and a stale one is
a 409. Saving a Jira rule and testing any rule ask the tracker, so they may answer 502/504. Built-in templates
are listed first and can be previewed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict

from trackbridge.domain.automation import EVENT_EXAMPLE, RULE_EXAMPLE, TEMPLATE_EXAMPLE, Rule, Template
from trackbridge.domain.pagination import DEFAULT_PAGE_SIZE, MAX_CURSOR_LENGTH, MAX_PAGE_SIZE
from trackbridge.runtime import container
from trackbridge.runtime.api.context import Principal, require_principal
from trackbridge.runtime.api.operations import requires
from trackbridge.runtime.automation.intake import parse_api_event
from trackbridge.runtime.automation.models import DryRun, Preview, RuleIn, TemplateIn
from trackbridge.runtime.automation.presets import RuleFromBuiltin

if TYPE_CHECKING:
    from trackbridge.runtime.automation.rules import RuleService

    Service = Annotated[RuleService, Depends(container.rule_service)]
else:
    Service = Annotated[Any, Depends(container.rule_service)]

READ, WRITE = "rules:read", "rules:write"

router = APIGatewayRouter()
Caller = Annotated[Principal, Depends(require_principal)]
Name = Annotated[str, Path(max_length=64, description="a rule or template name, e.g. cpu-high")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Cursor = Annotated[
    str | None, Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the last page")
]
_SAMPLE = {k: EVENT_EXAMPLE[k] for k in ("type", "source", "severity", "subject", "data", "occurred_at")}
SampleEvent = Annotated[
    dict[str, Any], Body(description="an event as POST /v1/events takes it", examples=[_SAMPLE])
]
OptionalSample = Annotated[
    dict[str, Any] | None,
    Body(description="an event; none: the template's own sample event", examples=[_SAMPLE]),
]


class RulePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [RULE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Rule]
    next_cursor: str | None = None


class TemplatePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [TEMPLATE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[Template]
    next_cursor: str | None = None


def _created(model: BaseModel) -> Response[Any]:
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=model)


def _sample(caller: Caller, body: dict[str, Any]) -> Any:
    from trackbridge.domain.times import utcnow

    return parse_api_event(body, event_id="evt_preview", received_at=utcnow())


@router.post(
    "/v1/rules",
    status_code=201,
    summary="Create an auto-issue rule",
    description="Validated on save: the condition (a Jinja2 expression) and the dedup key compile in the "
    "sandbox and use only the event type's variables, the template exists, the connection exists; for a Jira "
    "connection, every field the rule sets is on the project's create screen for the rule's issue type and "
    "no required field is left out (422 naming the field; the tracker unreachable: 502/504, nothing saved).",
    operation_id="createRule",
    tags=["rules"],
    openapi_extensions=requires(WRITE),
)
def create_rule(caller: Caller, service: Service, body: Annotated[RuleIn, Body()]) -> Response[Rule]:
    caller.require(WRITE)
    return _created(service.create_rule(caller.tenant, body, caller.actor))


@router.post(
    "/v1/rules:from-builtin",
    status_code=201,
    summary="Create a rule from a built-in preset (the default rules)",
    description="Creates the preset's rule for the connection, with the fields sent on top (name, "
    "condition, labels, assignee, issue, enabled), validated as `POST /v1/rules` validates. "
    "`performance-regression` fires above a 20% regression; `cloudwatch-alarm` opens an issue per alarm and "
    "closes it on OK.",
    operation_id="createRuleFromBuiltin",
    tags=["rules"],
    openapi_extensions=requires(WRITE),
)
def create_rule_from_builtin(
    caller: Caller, service: Service, body: Annotated[RuleFromBuiltin, Body()]
) -> Response[Rule]:
    caller.require(WRITE)
    return _created(service.create_from_builtin(caller.tenant, body, caller.actor))


@router.get(
    "/v1/rules",
    summary="The tenant's rules",
    description="Every rule of the tenant, a page at a time, in name order.",
    operation_id="listRules",
    tags=["rules"],
    openapi_extensions=requires(READ),
)
def list_rules(
    caller: Caller, service: Service, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> RulePage:
    caller.require(READ)
    page = service.list_rules(caller.tenant, limit=limit, cursor=cursor)
    return RulePage(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/v1/rules/<name>",
    summary="A rule",
    description="The rule as stored, with its version (send it back when replacing the rule).",
    operation_id="getRule",
    tags=["rules"],
    openapi_extensions=requires(READ),
)
def get_rule(name: Name, caller: Caller, service: Service) -> Rule:
    caller.require(READ)
    rule: Rule = service.get_rule(caller.tenant, name)
    return rule


@router.put(
    "/v1/rules/<name>",
    summary="Replace a rule (send the version you read)",
    description="Replaces the whole rule, validated as on create; a `version` older than the stored one is "
    "a 409 `VERSION_CONFLICT`.",
    operation_id="replaceRule",
    tags=["rules"],
    openapi_extensions=requires(WRITE),
)
def replace_rule(name: Name, caller: Caller, service: Service, body: Annotated[RuleIn, Body()]) -> Rule:
    caller.require(WRITE)
    rule: Rule = service.replace_rule(caller.tenant, name, body, caller.actor)
    return rule


@router.delete(
    "/v1/rules/<name>",
    summary="Delete a rule",
    description="Deletes the rule; issues it opened stay, and their fingerprints are no longer matched.",
    operation_id="deleteRule",
    tags=["rules"],
    openapi_extensions=requires(WRITE),
    responses={204: {"description": "deleted"}},
)
def delete_rule(name: Name, caller: Caller, service: Service) -> Response[None]:
    caller.require(WRITE)
    service.delete_rule(caller.tenant, name, caller.actor)
    return Response(status_code=204, body=None)


@router.post(
    "/v1/rules/<name>/test",
    summary="Dry run: does the rule match this event, what issue would it open, would the tracker take it",
    description="Renders the issue the rule would create for the sample event (`rendered`), asks the "
    "tracker what it can check without creating anything (`tracker_checks`: Jira's create screen and "
    "assignable users, GitHub's assignees and labels, GitLab's members and labels, with the tracker's own "
    "error text), and says whether the event would open an issue (`would_create`: the rule matches and no "
    "blocking check failed).",
    operation_id="testRule",
    tags=["rules"],
    openapi_extensions=requires(READ),
)
def test_rule(name: Name, caller: Caller, service: Service, body: SampleEvent) -> DryRun:
    caller.require(READ)
    sample = _sample(caller, body)  # a 422 before the service is asked
    dry_run: DryRun = service.test_rule(caller.tenant, name, sample)
    return dry_run


@router.post(
    "/v1/templates",
    status_code=201,
    summary="Create a template (Markdown, Jinja2 in the sandbox)",
    description="A Markdown template whose title and body are Jinja2, rendered in the sandbox; validated "
    "on save (syntax, unknown variables, protected attributes: 422 with the line).",
    operation_id="createTemplate",
    tags=["rules"],
    openapi_extensions=requires(WRITE),
)
def create_template(
    caller: Caller, service: Service, body: Annotated[TemplateIn, Body()]
) -> Response[Template]:
    caller.require(WRITE)
    return _created(service.create_template(caller.tenant, body, caller.actor))


@router.get(
    "/v1/templates",
    summary="Templates: built-in ones first, then the tenant's",
    description="The built-in templates (on the first page) and the tenant's own, a page at a time.",
    operation_id="listTemplates",
    tags=["rules"],
    openapi_extensions=requires(READ),
)
def list_templates(
    caller: Caller, service: Service, limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None
) -> TemplatePage:
    caller.require(READ)
    page = service.list_templates(caller.tenant, limit=limit, cursor=cursor)
    return TemplatePage(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/v1/templates/<name>",
    summary="A template (stored, or built in)",
    description="A stored template, or the built-in one of that name when the tenant has none.",
    operation_id="getTemplate",
    tags=["rules"],
    openapi_extensions=requires(READ),
)
def get_template(name: Name, caller: Caller, service: Service) -> Template:
    caller.require(READ)
    template: Template = service.template(caller.tenant, name)
    return template


@router.put(
    "/v1/templates/<name>",
    summary="Replace a stored template (send the version you read)",
    description="Replaces a stored template, validated as on create; a stale `version` is a 409.",
    operation_id="replaceTemplate",
    tags=["rules"],
    openapi_extensions=requires(WRITE),
)
def replace_template(
    name: Name, caller: Caller, service: Service, body: Annotated[TemplateIn, Body()]
) -> Template:
    caller.require(WRITE)
    template: Template = service.replace_template(caller.tenant, name, body, caller.actor)
    return template


@router.delete(
    "/v1/templates/<name>",
    summary="Delete a stored template",
    description="Deletes a stored template (a built-in one of the same name is used again).",
    operation_id="deleteTemplate",
    tags=["rules"],
    openapi_extensions=requires(WRITE),
    responses={204: {"description": "deleted"}},
)
def delete_template(name: Name, caller: Caller, service: Service) -> Response[None]:
    caller.require(WRITE)
    service.delete_template(caller.tenant, name, caller.actor)
    return Response(status_code=204, body=None)


@router.post(
    "/v1/templates/<name>/preview",
    summary="Render a template with a sample event (a built-in one's own sample when no body is sent)",
    description="Renders the title and body for the event sent (or, without a body, the template's "
    "own sample event), redacted as an issue would be; creates nothing.",
    operation_id="previewTemplate",
    tags=["rules"],
    openapi_extensions=requires(READ),
)
def preview_template(name: Name, caller: Caller, service: Service, body: OptionalSample = None) -> Preview:
    caller.require(READ)
    from trackbridge.runtime.automation.builtins import SAMPLE_EVENTS  # built-in templates load Jinja2

    given = body if body is not None else SAMPLE_EVENTS.get(name, SAMPLE_EVENTS["generic-event"])
    sample = _sample(caller, dict(given))  # a 422 before the service is asked
    preview: Preview = service.preview(caller.tenant, name, sample)
    return preview


__all__ = ["READ", "WRITE", "router"]
