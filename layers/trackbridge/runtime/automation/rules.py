"""Rules and templates as use cases: create, read, list, replace and delete, validated on save.

A rule is refused (422 with the field and, for Jinja2, the line) when its condition or dedup key does not
compile in the sandbox, names a variable the event type does not have, or reaches for a protected attribute
(``__class__``, ``mro``...); when its template is neither stored nor built in; when its connection does
not exist; or when its tracker would refuse every issue it opens (a field off a Jira create screen, a
required one left out: :mod:`.tracker_checks`, which also says why an unreachable tracker fails the save).
Templates are checked the same way. Built-in templates can be read and previewed but not changed (a stored
template of the same name overrides one for the tenant).

Default rules are offered as built-in rule presets (:mod:`.presets`): ``POST /v1/rules:from-builtin`` with
``{"from_builtin": "performance-regression", "connection_id"}`` creates the preset's rule (the performance
regression one fires above 20%), validated like any other, and a client may override any of its fields.

Rules and templates share one create/replace/delete algorithm (:meth:`RuleService._create`,
:meth:`~RuleService._replace`, :meth:`~RuleService._delete`): each kind only says how a body becomes a
checked document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

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
from trackbridge.runtime.automation.linked import ObjectLinks, object_context
from trackbridge.runtime.automation.models import DryRun, Preview, RuleIn, TemplateIn
from trackbridge.runtime.automation.presets import RuleFromBuiltin
from trackbridge.runtime.automation.render import (
    MAX_TITLE_CHARS,
    Redactor,
    SecurityError,
    check_source,
    evaluate,
    render,
)
from trackbridge.runtime.automation.service import AdapterLeases, Audit, ConnectionSource
from trackbridge.runtime.automation.tracker_checks import checker_for
from trackbridge.runtime.observability import logger

D = TypeVar("D", Rule, Template)
TEMPLATE_VARIABLES = BASE_VARIABLES | {"data_json"} | frozenset().union(*EVENT_DATA_KEYS.values())


class Store(Protocol[D]):
    """A kind of named, versioned document (``storage.automation.RuleRepository``...)."""

    def create(self, tenant: str, model: D) -> D: ...
    def list(self, tenant: str, *, limit: int = ..., cursor: str | None = None) -> Page[D]: ...
    def replace(self, tenant: str, model: D, *, expected_version: int) -> D: ...
    def delete(self, tenant: str, document_id: str, *, expected_version: int | None = None) -> None: ...


class RuleStore(Store[Rule], Protocol):
    def get(self, tenant: str, document_id: str) -> Rule: ...


class TemplateStore(Store[Template], Protocol):
    def find(self, tenant: str, document_id: str) -> Template | None: ...


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
        adapters: AdapterLeases | None = None,
        links: ObjectLinks | None = None,
        clock: Callable[[], datetime] = utcnow,
        redactor: Redactor | None = None,
    ) -> None:
        self.rules = rules
        self.templates = templates
        self.connections = connections
        self.audit = audit
        # None: no tracker is asked (saves skip the create-screen check, dry runs report no tracker checks).
        self.adapters = adapters
        self.links = links
        self.clock = clock
        self.redact = redactor or Redactor()

    # ---- one algorithm for both kinds of document ---------------------------------------------------------
    def _create(self, tenant: str, kind: str, store: Store[D], model: D, actor: Actor) -> D:
        created = store.create(tenant, model)
        self._audit(tenant, f"{kind}.create", model.name, actor)
        return created

    def _replace(
        self,
        tenant: str,
        kind: str,
        store: Store[D],
        name: str,
        body: RuleIn | TemplateIn,
        actor: Actor,
        *,
        stored: D,
        build: Callable[[int, datetime | None], D],
    ) -> D:
        """Build the next version from ``body`` (``build(version, created_at)``), write it on the condition
        that the stored one is still the version the client read, audit."""
        expected = body.version or stored.version
        model = build(expected + 1, stored.created_at)
        store.replace(tenant, model, expected_version=expected)
        self._audit(tenant, f"{kind}.update", name, actor)
        return model

    def _delete(self, tenant: str, kind: str, store: Store[D], name: str, actor: Actor) -> None:
        store.delete(tenant, name)
        self._audit(tenant, f"{kind}.delete", name, actor)

    # ---- rules --------------------------------------------------------------------------------------------
    def _checked_rule(self, tenant: str, body: RuleIn, *, version: int, created_at: datetime | None) -> Rule:
        allowed = allowed_variables(body.event_type)
        check_source("body.condition", body.condition, allowed=allowed, expression=True)
        check_source("body.dedup.key", body.dedup.key, allowed=allowed)
        self.template(tenant, body.template, path="body.template")
        try:
            connection = self.connections.get(tenant, body.connection_id)
        except NotFound:
            raise _refused("body.connection_id", f"no connection {body.connection_id!r}") from None
        now = self.clock()
        fields = body.model_dump(exclude={"version"})
        rule = Rule(**fields, created_at=created_at or now, updated_at=now, version=version)
        self._tracker_refusals(tenant, connection, rule)
        return rule

    def _tracker_refusals(self, tenant: str, connection: Connection, rule: Rule) -> None:
        """422 listing every field of ``rule`` its tracker would refuse on every issue (only trackers whose
        checker refuses on save are asked); tracker failures propagate as 502/504."""
        checker = checker_for(connection.provider)
        if self.adapters is None or not checker.checks_on_save:
            return
        with self.adapters.lease(tenant, connection) as adapter:
            refusals = checker.refusals(adapter, rule)
        if refusals:
            raise ValidationFailed(
                f"the tracker would refuse this rule's issues: {refusals[0].message}",
                details={"errors": [{"path": r.path, "message": r.message} for r in refusals]},
                guidance="Change the rule's fields, or the project's create screen, so they agree.",
            )

    def create_rule(self, tenant: str, body: RuleIn, actor: Actor) -> Rule:
        rule = self._checked_rule(tenant, body, version=1, created_at=None)
        return self._create(tenant, "rule", self.rules, rule, actor)

    def create_from_builtin(self, tenant: str, body: RuleFromBuiltin, actor: Actor) -> Rule:
        """A rule from a built-in preset (the default rules), with the client's fields on top."""
        return self.create_rule(tenant, body.rule_in(), actor)

    def replace_rule(self, tenant: str, name: str, body: RuleIn, actor: Actor) -> Rule:
        if body.name != name:
            raise _refused("body.name", "a rule's name cannot change; create a new rule")
        return self._replace(
            tenant,
            "rule",
            self.rules,
            name,
            body,
            actor,
            stored=self.rules.get(tenant, name),
            build=lambda version, created_at: self._checked_rule(
                tenant, body, version=version, created_at=created_at
            ),
        )

    def get_rule(self, tenant: str, name: str) -> Rule:
        return self.rules.get(tenant, name)

    def list_rules(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Rule]:
        return self.rules.list(tenant, limit=limit, cursor=cursor)

    def delete_rule(self, tenant: str, name: str, actor: Actor) -> None:
        self._delete(tenant, "rule", self.rules, name, actor)

    def test_rule(self, tenant: str, name: str, event: Event) -> DryRun:
        """A dry run: whether the rule matches ``event``, its fingerprint, the issue it would open, and what
        the tracker says about that issue (asked, never written to)."""
        rule = self.rules.get(tenant, name)
        if event.type != rule.event_type:
            raise _refused("body.type", f"the rule is for {rule.event_type!r} events")
        context = template_context(
            event,
            rule={"name": rule.name, "labels": list(rule.labels)},
            obj=object_context(self.links, tenant, event),
        )
        preview = self._render(self.template(tenant, rule.template), context)
        try:
            matches = evaluate(rule.condition, context)
            key = render(rule.dedup.key, context, max_output=2_000)
        except SecurityError as exc:
            raise _refused("rule", f"the rule does not render: {exc}") from None
        rendered = preview.model_copy(
            update={"matches": matches, "fingerprint": fingerprint_of(rule.name, key)}
        )
        checks = []
        connection = self.connections.get(tenant, rule.connection_id)
        checker = checker_for(connection.provider)
        if self.adapters is not None and checker.asks(rule):
            with self.adapters.lease(tenant, connection) as adapter:
                checks = checker.checks(adapter, rule)
        return DryRun(
            rendered=rendered,
            tracker_checks=checks,
            would_create=bool(matches) and all(c.ok for c in checks if c.blocking),
        )

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

    def _checked_template(self, body: TemplateIn, version: int, created_at: datetime | None) -> Template:
        now = self.clock()
        fields = body.model_dump(exclude={"version"})
        return Template(**fields, created_at=created_at or now, updated_at=now, version=version)

    def create_template(self, tenant: str, body: TemplateIn, actor: Actor) -> Template:
        check_template(body.title, body.body)
        template = self._checked_template(body, 1, None)
        self._create(tenant, "template", self.templates, template, actor)
        return template

    def replace_template(self, tenant: str, name: str, body: TemplateIn, actor: Actor) -> Template:
        if body.name != name:
            raise _refused("body.name", "a template's name cannot change")
        check_template(body.title, body.body)
        stored = self.templates.find(tenant, name)
        if stored is None:
            raise NotFound(f"no stored template {name!r}", details={"id": name})
        return self._replace(
            tenant,
            "template",
            self.templates,
            name,
            body,
            actor,
            stored=stored,
            build=lambda version, created_at: self._checked_template(body, version, created_at),
        )

    def list_templates(self, tenant: str, *, limit: int, cursor: str | None) -> Page[Template]:
        page = self.templates.list(tenant, limit=limit, cursor=cursor)
        if cursor is None:  # built-ins first, on the first page, unless the tenant overrides them
            stored = {t.name for t in page.items}
            builtins = [t for name, t in sorted(BUILTIN_TEMPLATES.items()) if name not in stored]
            return Page(items=[*builtins, *page.items], next_cursor=page.next_cursor)
        return page

    def delete_template(self, tenant: str, name: str, actor: Actor) -> None:
        self._delete(tenant, "template", self.templates, name, actor)

    def preview(self, tenant: str, name: str, event: Event) -> Preview:
        context = template_context(
            event, rule={"name": "preview", "labels": []}, obj=object_context(self.links, tenant, event)
        )
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


__all__ = ["DryRun", "Preview", "RuleIn", "RuleService", "TemplateIn", "check_template"]
