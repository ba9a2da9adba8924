"""Rules and templates as use cases: create, read, list, replace and delete, validated on save.

A rule is refused (422 with the field and, for Jinja2, the line) when its condition or dedup key does not
compile in the sandbox, names a variable the event type does not have, or reaches for a protected attribute
(``__class__``, ``mro``...); when its template is neither stored nor built in; or when its connection does
not exist. Templates are checked the same way. Built-in templates can be read and previewed but not changed
(a stored template of the same name overrides one for the tenant).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.domain.automation import Event, Rule, Template
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import DependencyFailure, NotFound, ValidationFailed
from trackbridge.domain.pagination import Page
from trackbridge.domain.times import utcnow
from trackbridge.runtime.automation.builtins import (
    BASE_VARIABLES,
    BUILTIN_TEMPLATES,
    EVENT_DATA_KEYS,
    allowed_variables,
    template_context,
)
from trackbridge.runtime.automation.fingerprints import fingerprint_of
from trackbridge.runtime.automation.models import Preview, RuleIn, TemplateIn
from trackbridge.runtime.automation.render import (
    MAX_TITLE_CHARS,
    Redactor,
    SecurityError,
    check_source,
    evaluate,
    render,
)
from trackbridge.runtime.observability import logger

TEMPLATE_VARIABLES = BASE_VARIABLES | {"data_json"} | frozenset().union(*EVENT_DATA_KEYS.values())


class RuleStore(Protocol):
    def create(self, tenant: str, model: Rule) -> Rule: ...
    def get(self, tenant: str, document_id: str) -> Rule: ...
    def list(self, tenant: str, *, limit: int = ..., cursor: str | None = None) -> Page[Rule]: ...
    def replace(self, tenant: str, model: Rule, *, expected_version: int) -> Rule: ...
    def delete(self, tenant: str, document_id: str, *, expected_version: int | None = None) -> None: ...


class TemplateStore(Protocol):
    def create(self, tenant: str, model: Template) -> Template: ...
    def find(self, tenant: str, document_id: str) -> Template | None: ...
    def list(self, tenant: str, *, limit: int = ..., cursor: str | None = None) -> Page[Template]: ...
    def replace(self, tenant: str, model: Template, *, expected_version: int) -> Template: ...
    def delete(self, tenant: str, document_id: str, *, expected_version: int | None = None) -> None: ...


class ConnectionSource(Protocol):
    def get(self, tenant: str, connection_id: str) -> Connection: ...


class Audit(Protocol):
    def append(self, tenant: str, entry: Any) -> Any: ...


def _refused(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"errors": [{"path": path, "message": message}]})


def check_template(title: str, body: str) -> None:
    check_source("body.title", title, allowed=TEMPLATE_VARIABLES)
    check_source("body.body", body, allowed=TEMPLATE_VARIABLES)


class RuleService:
    def __init__(
        self,
        rules: RuleStore,
        templates: TemplateStore,
        connections: ConnectionSource,
        audit: Audit | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        redactor: Redactor | None = None,
    ) -> None:
        self.rules = rules
        self.templates = templates
        self.connections = connections
        self.audit = audit
        self.clock = clock
        self.redact = redactor or Redactor()

    # ---- rules --------------------------------------------------------------------------------------------
    def _checked_rule(self, tenant: str, body: RuleIn, *, version: int, created_at: datetime | None) -> Rule:
        allowed = allowed_variables(body.event_type)
        check_source("body.condition", body.condition, allowed=allowed, expression=True)
        check_source("body.dedup.key", body.dedup.key, allowed=allowed)
        self.template(tenant, body.template, path="body.template")
        try:
            self.connections.get(tenant, body.connection_id)
        except NotFound:
            raise _refused("body.connection_id", f"no connection {body.connection_id!r}") from None
        now = self.clock()
        fields = body.model_dump(exclude={"version"})
        return Rule(**fields, created_at=created_at or now, updated_at=now, version=version)

    def create_rule(self, tenant: str, body: RuleIn, actor: Actor) -> Rule:
        rule = self.rules.create(tenant, self._checked_rule(tenant, body, version=1, created_at=None))
        self._audit(tenant, "rule.create", rule.name, actor)
        return rule

    def replace_rule(self, tenant: str, name: str, body: RuleIn, actor: Actor) -> Rule:
        if body.name != name:
            raise _refused("body.name", "a rule's name cannot change; create a new rule")
        stored = self.rules.get(tenant, name)
        expected = body.version or stored.version
        rule = self._checked_rule(tenant, body, version=expected + 1, created_at=stored.created_at)
        self.rules.replace(tenant, rule, expected_version=expected)
        self._audit(tenant, "rule.update", name, actor)
        return rule

    def get_rule(self, tenant: str, name: str) -> Rule:
        return self.rules.get(tenant, name)

    def list_rules(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Rule]:
        return self.rules.list(tenant, limit=limit, cursor=cursor)

    def delete_rule(self, tenant: str, name: str, actor: Actor) -> None:
        self.rules.delete(tenant, name)
        self._audit(tenant, "rule.delete", name, actor)

    def test_rule(self, tenant: str, name: str, event: Event) -> Preview:
        """A dry run: whether the rule matches ``event``, its fingerprint, and the issue it would open."""
        rule = self.rules.get(tenant, name)
        if event.type != rule.event_type:
            raise _refused("body.type", f"the rule is for {rule.event_type!r} events")
        context = template_context(event, rule={"name": rule.name, "labels": list(rule.labels)})
        preview = self._render(self.template(tenant, rule.template), context)
        try:
            matches = evaluate(rule.condition, context)
            key = render(rule.dedup.key, context, max_output=2_000)
        except SecurityError as exc:
            raise _refused("rule", f"the rule does not render: {exc}") from None
        return preview.model_copy(update={"matches": matches, "fingerprint": fingerprint_of(rule.name, key)})

    # ---- templates ----------------------------------------------------------------------------------------
    def template(self, tenant: str, name: str, *, path: str | None = None) -> Template:
        stored = self.templates.find(tenant, name)
        if stored is not None:
            return stored
        if name in BUILTIN_TEMPLATES:
            return BUILTIN_TEMPLATES[name]
        if path is not None:
            raise _refused(path, f"no template {name!r} (built in: {', '.join(sorted(BUILTIN_TEMPLATES))})")
        raise NotFound(f"no template {name!r}", details={"id": name})

    def create_template(self, tenant: str, body: TemplateIn, actor: Actor) -> Template:
        check_template(body.title, body.body)
        now = self.clock()
        template = Template(**body.model_dump(exclude={"version"}), created_at=now, updated_at=now, version=1)
        self.templates.create(tenant, template)
        self._audit(tenant, "template.create", template.name, actor)
        return template

    def replace_template(self, tenant: str, name: str, body: TemplateIn, actor: Actor) -> Template:
        if body.name != name:
            raise _refused("body.name", "a template's name cannot change")
        check_template(body.title, body.body)
        stored = self.templates.find(tenant, name)
        if stored is None:
            raise NotFound(f"no stored template {name!r}", details={"id": name})
        expected = body.version or stored.version
        template = Template(
            **body.model_dump(exclude={"version"}),
            created_at=stored.created_at,
            updated_at=self.clock(),
            version=expected + 1,
        )
        self.templates.replace(tenant, template, expected_version=expected)
        self._audit(tenant, "template.update", name, actor)
        return template

    def list_templates(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Template]:
        page = self.templates.list(tenant, limit=limit, cursor=cursor)
        if cursor is None:  # built-ins first, on the first page, unless the tenant overrides them
            stored = {t.name for t in page.items}
            builtins = [t for name, t in sorted(BUILTIN_TEMPLATES.items()) if name not in stored]
            return Page(items=[*builtins, *page.items], next_cursor=page.next_cursor)
        return page

    def delete_template(self, tenant: str, name: str, actor: Actor) -> None:
        self.templates.delete(tenant, name)
        self._audit(tenant, "template.delete", name, actor)

    def preview(self, tenant: str, name: str, event: Event) -> Preview:
        context = template_context(event, rule={"name": "preview", "labels": []})
        return self._render(self.template(tenant, name), context)

    def _render(self, template: Template, context: Mapping[str, Any]) -> Preview:
        try:
            title = render(template.title, context, max_output=MAX_TITLE_CHARS)
            body = render(template.body, context)
        except SecurityError as exc:
            raise _refused("template", f"the template does not render: {exc}") from None
        return Preview(title=self.redact(" ".join(title.split())), body=self.redact(body))

    def _audit(self, tenant: str, action: str, target: str, actor: Actor) -> None:
        if self.audit is None:
            return
        entry = new_entry(
            action=action,
            target=target,
            actor=actor,
            at=self.clock(),
            changes={"name": FieldChange(new=target)},
        )
        try:
            self.audit.append(tenant, entry)
        except DependencyFailure as exc:
            logger.error("rules.audit_failed", extra={"tenant": tenant, "action": action, "code": exc.code})


__all__ = ["Preview", "RuleIn", "RuleService", "TemplateIn", "check_template"]
