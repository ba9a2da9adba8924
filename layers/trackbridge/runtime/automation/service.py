"""The auto-issue consumer's use case: one event -> the rules it matches -> at most one issue per fingerprint.

For each enabled rule of the event's type whose condition holds (in priority order):

1. the dedup key is rendered and hashed into the fingerprint; the claim ``FP#{rule}#{fingerprint}`` is read;
2. a firing event with no claim puts one (condition: absent) **before** any tracker call, then creates the
   issue carrying the claim's marker in its body, then records ``created`` with the issue ref (condition:
   version). A worker that loses the put re-reads and goes on with what it found;
3. a fresh ``claimed`` of another worker: :class:`ClaimBusy` (retryable), the job returns to the queue and
   finds ``created`` next time. A stale one (its owner crashed between claim and record): the tracker is
   searched for the marker; the issue found is recorded, and only if none exists is the claim taken over
   (condition: version) and the issue created;
4. a repeat of a ``created`` fingerprint: counted; the tracker is asked about the issue only when a comment
   is due (one per repeat window) or the issue was closed: open -> one comment with the count and latest
   values; closed as won't-fix by a person -> stays closed; closed within the reopen window -> reopened with
   a comment; closed longer ago -> a new generation (new marker) and a new issue linking the old one;
5. a recovery (alarm ``OK``, ``resolved: true``; the rule's condition is not asked): parked for the rule's
   settle time (a delayed :class:`~.events.SettleCheck` on the queue); if nothing fired meanwhile,
   ``on_resolve`` comments and/or closes. A flapping alarm keeps clearing ``resolved_at``, so it never
   closes and reopens on every flap.

Marker: a token in the issue body (``tbfp`` + 16 hex), not a label: labels flood a project's label list
(Alertmanager #4624) and fail creation where the field is not on Jira's create screen (#4309); each
tracker's search finds the token (GitHub ``"tbfp..." in:body``, GitLab ``search``, Jira ``text ~``).

Tracker errors propagate (the job fails back to the queue, SQS retries it later; ``consumer`` parks a
429). When the tracker refused a create outright (429, 4xx, access), the claim is released so the retry
starts clean; when the outcome is unknown (timeout, 5xx) the claim stays, and the stale-claim search
decides later. Only fields set at
creation (assignee, priority, labels) are written once: repeats only comment and move state.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Protocol

from trackbridge.domain.audit import Actor, FieldChange, new_entry
from trackbridge.domain.automation import Event, FingerprintClaim, Rule, Template
from trackbridge.domain.connections import Connection
from trackbridge.domain.errors import DependencyFailure, NotFound, TrackbridgeError
from trackbridge.domain.issues import Issue
from trackbridge.domain.times import utcnow
from trackbridge.providers.base import TrackerAdapter
from trackbridge.providers.errors import (
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    TrackerAccessError,
)
from trackbridge.providers.types import IssueDraft
from trackbridge.runtime.automation import fingerprints as fp
from trackbridge.runtime.automation.builtins import BUILTIN_TEMPLATES, template_context
from trackbridge.runtime.automation.events import SettleCheck
from trackbridge.runtime.automation.linked import object_context
from trackbridge.runtime.automation.render import MAX_TITLE_CHARS, Redactor, evaluate, render
from trackbridge.runtime.observability import logger
from trackbridge.storage.automation import AlreadyCounted, ClaimLost, FingerprintRepository

MAX_SQS_DELAY_S = 900
MAX_RULES_PER_EVENT = 50
# Event ids a claim remembers: a duplicate delivery of one of them is not counted again.
RECENT_EVENTS = 20
ACTOR = Actor(id="auto-issue")
_REFUSED = (RateLimitedError, InvalidRequestError, TrackerAccessError, NotFoundError)
_WONT_FIX_LABELS = frozenset({"wontfix", "won't fix", "wont-fix", "won't do", "not planned"})

Outcome = Literal[
    "created",
    "recovered",
    "commented",
    "counted",
    "reopened",
    "kept_closed",
    "parked",
    "resolved",
    "ignored",
]


class ClaimBusy(TrackbridgeError):
    """Another worker holds a fresh claim of this fingerprint; retry after the visibility timeout."""

    status = 409
    code = "CONCURRENT_CHANGE"


class RuleSource(Protocol):
    def for_event_type(self, tenant: str, event_type: str) -> Sequence[Rule]: ...


class TemplateSource(Protocol):
    def find(self, tenant: str, name: str) -> Template | None: ...


class ConnectionSource(Protocol):
    def get(self, tenant: str, connection_id: str) -> Connection: ...


class AdapterLeases(Protocol):
    def lease(self, tenant: str, connection: Connection) -> AbstractContextManager[TrackerAdapter]: ...


class Requeue(Protocol):
    def send(self, body: Mapping[str, Any], *, delay_s: int) -> None: ...


class Audit(Protocol):
    def append(self, tenant: str, entry: Any) -> Any: ...


class SyncedCopy(Protocol):
    """``storage.issues.IssueRepository`` / ``CommentRepository``: the synced copy, written through."""

    def put_if_newer(self, tenant: str, item: Any, /) -> Any: ...


class Enricher(Protocol):
    """An optional step that adds to the template's context (e.g. a model's summary), as ``enrichment``.
    Off unless given; its output is redacted with the rest, and its failure only leaves it out."""

    def enrich(self, event: Event, context: Mapping[str, Any]) -> Mapping[str, Any]: ...


class AutoLinks(Protocol):
    """``runtime.links.LinkService`` (the link registry), optional: links each created issue to the event's
    object, and shows templates the issues already linked to it (:mod:`.linked`)."""

    def ensure(self, tenant: str, obj: Any, issue_ref: str, *, actor: Actor, type: Any) -> Any: ...

    def object_view(self, tenant: str, obj: Any, *, limit: int = ...) -> Any: ...


# ---- per-tracker differences ---------------------------------------------------------------------------
class TrackerRules:
    """How auto-issue finds a marker, reopens, closes and recognises a won't-fix on one tracker."""

    reopen_target: ClassVar[str] = "reopen"
    close_target: ClassVar[str] = "close"

    def marker_query(self, marker: str) -> str:
        return marker

    def raw_issue(self, adapter: Any, key: str) -> Mapping[str, Any]:
        return dict(adapter.get_json(adapter.issue_path(key)))

    def wont_fix(self, raw: Mapping[str, Any], issue: Issue) -> bool:
        return any(label.strip().lower() in _WONT_FIX_LABELS for label in issue.labels)


class GitHubRules(TrackerRules):
    def marker_query(self, marker: str) -> str:
        return f'"{marker}" in:body'

    def wont_fix(self, raw: Mapping[str, Any], issue: Issue) -> bool:
        return raw.get("state_reason") == "not_planned" or super().wont_fix(raw, issue)


class GitLabRules(TrackerRules):
    """GitLab has no close reason: a won't-fix is a label (``wontfix``...) a person puts on."""


class JiraRules(TrackerRules):
    reopen_target = "todo"
    close_target = "done"
    wont_fix_resolutions: ClassVar[frozenset[str]] = frozenset(
        {"won't do", "won't fix", "wont do", "wont fix"}
    )

    def marker_query(self, marker: str) -> str:
        return f'text ~ "{marker}"'

    def raw_issue(self, adapter: Any, key: str) -> Mapping[str, Any]:
        return dict(
            adapter.get_json(f"rest/api/3/issue/{key}", params={"fields": "resolution,status,labels"})
        )

    def wont_fix(self, raw: Mapping[str, Any], issue: Issue) -> bool:
        # An empty resolution is not a won't-fix (Alertmanager #4295 reopened such issues as duplicates).
        resolution = (raw.get("fields") or {}).get("resolution") or {}
        name = str(resolution.get("name") or "").strip().lower().replace("\u2019", "'")
        return name in self.wont_fix_resolutions or super().wont_fix(raw, issue)


TRACKER_RULES: Mapping[str, TrackerRules] = {
    "github": GitHubRules(),
    "gitlab": GitLabRules(),
    "jira": JiraRules(),
}


def tracker_rules(provider: str) -> TrackerRules:
    return TRACKER_RULES.get(provider, TrackerRules())


# ---- results -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RuleOutcome:
    rule: str
    outcome: Outcome
    issue_ref: str | None = None
    fingerprint: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class EventOutcome:
    event_id: str
    rules: tuple[RuleOutcome, ...] = ()

    @property
    def issue_ref(self) -> str | None:
        return next((r.issue_ref for r in self.rules if r.issue_ref), None)


@dataclass
class _Job:
    tenant: str
    event: Event
    rule: Rule
    template: Template
    context: dict[str, Any]
    fingerprint: str
    connection: Connection
    now: datetime
    owner: str = field(default_factory=lambda: f"w-{uuid.uuid4().hex[:12]}")


class AutoIssueService:
    def __init__(
        self,
        *,
        rules: RuleSource,
        templates: TemplateSource,
        claims: FingerprintRepository,
        connections: ConnectionSource,
        adapters: AdapterLeases,
        requeue: Requeue,
        audit: Audit | None = None,
        links: AutoLinks | None = None,
        issues: SyncedCopy | None = None,
        comments: SyncedCopy | None = None,
        enricher: Enricher | None = None,
        redactor: Redactor | None = None,
        stale_after: timedelta = fp.DEFAULT_STALE_AFTER,
        clock: Callable[[], datetime] = utcnow,
        crash_after_claim: Callable[[], None] | None = None,
    ) -> None:
        self.rules = rules
        self.templates = templates
        self.claims = claims
        self.connections = connections
        self.adapters = adapters
        self.requeue = requeue
        self.audit = audit
        self.links = links
        self.issues = issues
        self.comments = comments
        self.enricher = enricher
        self.redact = redactor or Redactor()
        self.stale_after = stale_after
        self.clock = clock
        # A test hook: called between the claim and the tracker call, to inject the crash DESIGN 10 is about.
        self._crash_after_claim = crash_after_claim

    # ---- entry points -------------------------------------------------------------------------------------
    def process(self, tenant: str, event: Event) -> EventOutcome:
        outcomes = [self._apply(tenant, event, rule) for rule in self._matching(tenant, event)]
        result = EventOutcome(event.id, tuple(outcomes))
        logger.info(
            "auto_issue.event",
            extra={
                "tenant": tenant,
                "event_id": event.id,
                "type": event.type,
                "rules": [(o.rule, o.outcome) for o in outcomes],
            },
        )
        return result

    def settle(self, check: SettleCheck) -> EventOutcome:
        rule = next(
            (r for r in self.rules.for_event_type(check.tenant, check.event.type) if r.name == check.rule),
            None,
        )
        if rule is None:
            return EventOutcome(check.event.id, (RuleOutcome(check.rule, "ignored", reason="rule gone"),))
        job = self._job(check.tenant, check.event, rule, fingerprint=check.fingerprint)
        claim = self.claims.find(check.tenant, rule.name, check.fingerprint)
        if claim is None or claim.resolved_at != check.resolved_at or claim.closed_at is not None:
            return EventOutcome(check.event.id, (RuleOutcome(rule.name, "ignored", reason="fired since"),))
        return EventOutcome(check.event.id, (self._resolve(job, claim),))

    # ---- matching -----------------------------------------------------------------------------------------
    def _matching(self, tenant: str, event: Event) -> list[Rule]:
        rules = sorted(
            (r for r in self.rules.for_event_type(tenant, event.type) if r.enabled),
            key=lambda r: (r.priority, r.name),
        )[:MAX_RULES_PER_EVENT]
        matched = []
        context = template_context(event)
        for rule in rules:
            if event.resolved:
                # A recovery acts only on a fingerprint its rule already opened: the condition says when to
                # open an issue (an alarm's OK would fail ``alarm.state == 'ALARM'``), not when to resolve.
                matched.append(rule)
                continue
            try:
                if evaluate(rule.condition, context):
                    matched.append(rule)
            except Exception as exc:  # a broken condition skips its rule, logged; the others still run
                logger.warning(
                    "auto_issue.condition_failed",
                    extra={"tenant": tenant, "rule": rule.name, "error": f"{type(exc).__name__}: {exc}"},
                )
        return matched

    def _template(self, tenant: str, name: str) -> Template:
        stored = self.templates.find(tenant, name)
        if stored is not None:
            return stored
        if name in BUILTIN_TEMPLATES:
            return BUILTIN_TEMPLATES[name]
        raise NotFound(f"no template {name!r}", details={"template": name})

    def _job(self, tenant: str, event: Event, rule: Rule, *, fingerprint: str | None = None) -> _Job:
        context = template_context(event, rule={"name": rule.name, "labels": list(rule.labels)})
        if self.enricher is not None:
            try:
                context["enrichment"] = dict(self.enricher.enrich(event, context))
            except Exception as exc:  # an optional step: the issue is opened without it
                logger.warning(
                    "auto_issue.enrichment_failed",
                    extra={"tenant": tenant, "rule": rule.name, "error": type(exc).__name__},
                )
        if fingerprint is None:
            fingerprint = fp.fingerprint_of(rule.name, render(rule.dedup.key, context, max_output=2_000))
        return _Job(
            tenant=tenant,
            event=event,
            rule=rule,
            template=self._template(tenant, rule.template),
            context=context,
            fingerprint=fingerprint,
            connection=self.connections.get(tenant, rule.connection_id),
            now=self.clock(),
        )

    def _apply(self, tenant: str, event: Event, rule: Rule) -> RuleOutcome:
        job = self._job(tenant, event, rule)
        claim = self.claims.find(tenant, rule.name, job.fingerprint)
        if event.resolved:
            if claim is None or claim.state != "created":
                return RuleOutcome(rule.name, "ignored", fingerprint=job.fingerprint, reason="nothing open")
            return self._resolve(job, claim)
        if event.type == "cloudwatch.alarm" and (event.data.get("state") or {}).get("value") != "ALARM":
            return RuleOutcome(rule.name, "ignored", fingerprint=job.fingerprint, reason="not firing")
        for _ in range(5):  # each round follows a claim another worker moved; bounded
            if claim is None:
                claim = self._claim_new(job)
                if claim.owner == job.owner and claim.state == "claimed":
                    return self._create(job, claim)
                continue
            decision = fp.on_existing(claim, job.now, stale_after=self.stale_after)
            if decision == "busy":
                raise ClaimBusy(
                    "another worker is creating this issue",
                    details={"rule": rule.name, "fingerprint": job.fingerprint},
                    guidance="nothing to do: the job is retried after the queue's visibility timeout",
                )
            if decision == "recover":
                return self._recover(job, claim)
            try:
                return self._repeat(job, claim)
            except AlreadyCounted:
                return RuleOutcome(
                    rule.name, "ignored", claim.issue_ref, job.fingerprint, reason="duplicate delivery"
                )
            except ClaimLost as lost:
                claim = lost.stored or self.claims.find(tenant, rule.name, job.fingerprint)
        raise ClaimBusy("the fingerprint claim kept changing", details={"fingerprint": job.fingerprint})

    # ---- claim and create ---------------------------------------------------------------------------------
    def _claim_new(self, job: _Job) -> FingerprintClaim:
        fresh = FingerprintClaim(
            rule=job.rule.name,
            fingerprint=job.fingerprint,
            connection_id=job.connection.id,
            state="claimed",
            owner=job.owner,
            claimed_at=job.now,
            last_seen_at=job.now,
            recent_events=[job.event.id],
        )
        try:
            return self.claims.claim(job.tenant, fresh)
        except ClaimLost as lost:
            stored = lost.stored or self.claims.find(job.tenant, job.rule.name, job.fingerprint)
            if stored is None:
                raise ClaimBusy("the claim vanished while being read") from lost
            return stored

    def _draft(self, job: _Job, claim: FingerprintClaim) -> IssueDraft:
        # The linked object's issues are read only here, when an issue is about to be opened.
        context = {**job.context, "object": object_context(self.links, job.tenant, job.event)}
        title = self.redact(" ".join(render(job.template.title, context, max_output=MAX_TITLE_CHARS).split()))
        body = self.redact(render(job.template.body, context))
        if claim.previous_issue_ref:
            previous = claim.previous_issue_url or claim.previous_issue_ref
            body += f"\n\nThis happened before: {previous} (closed)."
        body += f"\n\n---\nOpened by trackbridge rule `{job.rule.name}` (ref {claim.marker} )\n"
        return IssueDraft(
            title=title or job.rule.name,
            body=body,
            labels=tuple(job.rule.labels),
            assignees=(job.rule.assignee,) if job.rule.assignee else (),
            priority=job.rule.issue.priority,
            issue_type=job.rule.issue.type,
            fields=job.rule.issue.native_fields(),
        )

    def _create(self, job: _Job, claim: FingerprintClaim) -> RuleOutcome:
        if self._crash_after_claim is not None:
            self._crash_after_claim()
        draft = self._draft(job, claim)
        with self.adapters.lease(job.tenant, job.connection) as adapter:
            try:
                issue = adapter.create_issue(draft)
            except _REFUSED:
                self.claims.release(job.tenant, claim)  # the tracker made nothing: start clean on retry
                raise
        self._record_created(job, claim, issue)
        self._write_through(job, self.issues, issue)
        self._audit(job, "auto_issue.create", issue.ref, {"fingerprint": FieldChange(new=job.fingerprint)})
        self._link(job, issue)
        return RuleOutcome(job.rule.name, "created", issue.ref, job.fingerprint)

    def _record_created(self, job: _Job, claim: FingerprintClaim, issue: Issue) -> FingerprintClaim:
        created = claim.model_copy(
            update={
                "state": "created",
                "issue_ref": issue.ref,
                "issue_key": issue.key,
                "issue_url": issue.url,
                "closed_at": None,
                "resolved_at": None,
                "last_comment_at": job.now,
                "version": claim.version + 1,
            }
        )
        try:
            # The creating event is counted with the record, so its late duplicates count nothing.
            return self.claims.replace(job.tenant, created, counting=job.event.id, at=job.now)
        except AlreadyCounted:
            return self.claims.replace(job.tenant, created)

    def _recover(self, job: _Job, claim: FingerprintClaim) -> RuleOutcome:
        rules = tracker_rules(job.connection.provider)
        with self.adapters.lease(job.tenant, job.connection) as adapter:
            found = [
                issue
                for issue in adapter.search_issues(rules.marker_query(claim.marker), limit=5)
                if claim.marker in issue.body
            ]
        if found:
            issue = min(found, key=lambda i: (i.created_at, i.ref))  # several: the first one is the issue
            try:
                self._record_created(job, claim, issue)
            except ClaimLost as lost:
                raise ClaimBusy("another worker recovered the claim first") from lost
            logger.warning(
                "auto_issue.claim_recovered",
                extra={
                    "tenant": job.tenant,
                    "rule": job.rule.name,
                    "issue_ref": issue.ref,
                    "found": len(found),
                },
            )
            return RuleOutcome(job.rule.name, "recovered", issue.ref, job.fingerprint)
        taken = claim.model_copy(
            update={"owner": job.owner, "claimed_at": job.now, "version": claim.version + 1}
        )
        try:
            self.claims.replace(job.tenant, taken)
        except ClaimLost as lost:
            raise ClaimBusy("another worker took the stale claim over first") from lost
        logger.warning("auto_issue.claim_taken_over", extra={"tenant": job.tenant, "rule": job.rule.name})
        return self._create(job, taken)

    # ---- repeats ------------------------------------------------------------------------------------------
    def _view(self, job: _Job, claim: FingerprintClaim) -> fp.TrackerView | None:
        window = timedelta(seconds=job.rule.dedup.repeat_window)
        if not fp.needs_tracker_view(claim, job.now, window=window):
            return None
        rules = tracker_rules(job.connection.provider)
        key = str(claim.issue_key)
        with self.adapters.lease(job.tenant, job.connection) as adapter:
            issue = adapter.get_issue(key)
            closed = issue.status_category == "done"
            wont_fix = closed and rules.wont_fix(rules.raw_issue(adapter, key), issue)
        return fp.TrackerView(
            closed=closed, wont_fix=wont_fix, closed_at=issue.updated_at if closed else None
        )

    def _repeat(self, job: _Job, claim: FingerprintClaim) -> RuleOutcome:
        if job.event.id in claim.recent_events:
            return RuleOutcome(
                job.rule.name, "ignored", claim.issue_ref, job.fingerprint, reason="duplicate delivery"
            )
        view = self._view(job, claim)
        action = fp.on_repeat(
            claim,
            view,
            job.now,
            window=timedelta(seconds=job.rule.dedup.repeat_window),
            reopen_window=timedelta(seconds=job.rule.dedup.reopen_window),
            on_repeat_setting=job.rule.on_repeat,
        )
        counted = claim.model_copy(
            update={
                "count": claim.count + 1,
                "recent_events": [*claim.recent_events, job.event.id][-RECENT_EVENTS:],
                "last_seen_at": job.now,
                "resolved_at": None,  # it fired again: a parked recovery no longer holds (flapping)
                "version": claim.version + 1,
            }
        )
        ref = claim.issue_ref
        if action in ("count", "keep_closed"):
            self._count(job, counted)
            return RuleOutcome(
                job.rule.name, "counted" if action == "count" else "kept_closed", ref, job.fingerprint
            )
        if action == "new_issue":
            regenerated = counted.model_copy(
                update={
                    "state": "claimed",
                    "owner": job.owner,
                    "claimed_at": job.now,
                    "generation": claim.generation + 1,
                    "count": 1,
                    "recent_events": [job.event.id],
                    "previous_issue_ref": claim.issue_ref,
                    "previous_issue_url": claim.issue_url,
                    "issue_ref": None,
                    "issue_key": None,
                    "issue_url": None,
                    "closed_at": None,
                }
            )
            self._count(job, regenerated)
            return self._create(job, regenerated)
        # comment or reopen: take the slot first (condition), so concurrent repeats comment once
        slot = counted.model_copy(update={"last_comment_at": job.now, "closed_at": None})
        self._count(job, slot)
        text = self._repeat_comment(job, slot, reopened=action == "reopen")
        try:
            with self.adapters.lease(job.tenant, job.connection) as adapter:
                if action == "reopen":
                    reopened = adapter.transition_issue(
                        str(claim.issue_key), tracker_rules(job.connection.provider).reopen_target
                    )
                    self._write_through(job, self.issues, reopened)
                comment = adapter.add_comment(str(claim.issue_key), text)
                self._write_through(job, self.comments, comment)
        except Exception:
            self._restore(job, slot, claim)
            raise
        outcome: Outcome = "reopened" if action == "reopen" else "commented"
        self._audit(
            job,
            f"auto_issue.{'reopen' if action == 'reopen' else 'comment'}",
            str(ref),
            {"count": FieldChange(new=slot.count)},
        )
        return RuleOutcome(job.rule.name, outcome, ref, job.fingerprint)

    def _count(self, job: _Job, claim: FingerprintClaim) -> None:
        """Write a repeat's next claim state together with the event's "counted" marker (one transaction)."""
        self.claims.replace(job.tenant, claim, counting=job.event.id, at=job.now)

    def _restore(self, job: _Job, taken: FingerprintClaim, before: FingerprintClaim) -> None:
        """Give a comment slot back after the tracker refused, so the retry can comment."""
        restored = taken.model_copy(
            update={
                "last_comment_at": before.last_comment_at,
                "closed_at": before.closed_at,
                "version": taken.version + 1,
            }
        )
        with contextlib.suppress(ClaimLost):  # moved on meanwhile: the next repeat decides afresh
            self.claims.replace(job.tenant, restored)

    def _repeat_comment(self, job: _Job, claim: FingerprintClaim, *, reopened: bool) -> str:
        lead = "Reopened: this happened again" if reopened else "This is still happening"
        latest = json.dumps(job.event.data, sort_keys=True, default=str)[:4_000]
        summary = job.context.get("alarm") or {}
        lines = [
            f"{lead}: seen **{claim.count}** times, last at {job.event.occurred_at.isoformat()}.",
        ]
        if summary.get("reason"):
            lines.append(f"\nLatest state: {summary.get('state')}: {summary['reason']}")
        else:
            lines.append(f"\nLatest values:\n\n```json\n{latest}\n```")
        return self.redact("\n".join(lines))

    # ---- recoveries ---------------------------------------------------------------------------------------
    def _resolve(self, job: _Job, claim: FingerprintClaim) -> RuleOutcome:
        rule = job.rule
        ref = claim.issue_ref
        if rule.on_resolve == "none" or claim.closed_at is not None:
            return RuleOutcome(rule.name, "ignored", ref, job.fingerprint, reason="nothing to resolve")
        settle = timedelta(seconds=rule.settle_s)
        if rule.settle_s and (claim.resolved_at is None or job.now - claim.resolved_at < settle):
            if claim.resolved_at is None:
                claim = self.claims.replace(
                    job.tenant,
                    claim.model_copy(update={"resolved_at": job.now, "version": claim.version + 1}),
                )
            assert claim.resolved_at is not None
            remaining = settle - (job.now - claim.resolved_at)
            check = SettleCheck(
                tenant=job.tenant,
                rule=rule.name,
                fingerprint=job.fingerprint,
                resolved_at=claim.resolved_at,
                event=job.event,
            )
            self.requeue.send(
                check.model_dump(mode="json"),
                delay_s=min(MAX_SQS_DELAY_S, max(1, int(remaining.total_seconds()) + 1)),
            )
            return RuleOutcome(rule.name, "parked", ref, job.fingerprint)
        closing = claim.model_copy(
            update={
                "resolved_at": None,
                "closed_at": job.now if rule.on_resolve == "close" else claim.closed_at,
                "last_comment_at": job.now,
                "version": claim.version + 1,
            }
        )
        self.claims.replace(job.tenant, closing)  # condition: one worker resolves
        summary = job.context.get("alarm") or {}
        text = "Recovered" + (f": {summary.get('reason')}" if summary.get("reason") else ".")
        if rule.on_resolve == "close":
            text += "\n\nClosed by trackbridge; it reopens if this happens again."
        try:
            with self.adapters.lease(job.tenant, job.connection) as adapter:
                comment = adapter.add_comment(str(claim.issue_key), self.redact(text))
                self._write_through(job, self.comments, comment)
                if rule.on_resolve == "close":
                    closed = adapter.transition_issue(
                        str(claim.issue_key), tracker_rules(job.connection.provider).close_target
                    )
                    self._write_through(job, self.issues, closed)
        except Exception:
            self._restore(job, closing, claim.model_copy(update={"closed_at": None}))
            raise
        self._audit(job, f"auto_issue.{rule.on_resolve}", str(ref), {})
        return RuleOutcome(rule.name, "resolved", ref, job.fingerprint)

    def _write_through(self, job: _Job, copy: SyncedCopy | None, item: Any) -> None:
        """The synced copy shows the tracker's answer at once (as tracker actions do); an outage here is
        logged only: the tracker has acted, and the next sync or webhook repairs the copy."""
        if copy is None:
            return
        try:
            copy.put_if_newer(job.tenant, item)
        except DependencyFailure as exc:
            logger.warning("auto_issue.write_through_failed", extra={"tenant": job.tenant, "code": exc.code})

    # ---- audit and links ----------------------------------------------------------------------------------
    def _audit(self, job: _Job, action: str, target: str, changes: dict[str, FieldChange]) -> None:
        if self.audit is None:
            return
        changes = {
            **changes,
            "rule": FieldChange(new=job.rule.name),
            "event_id": FieldChange(new=job.event.id),
        }
        try:
            self.audit.append(
                job.tenant, new_entry(action=action, target=target, actor=ACTOR, at=job.now, changes=changes)
            )
        except DependencyFailure as exc:
            logger.error(
                "auto_issue.audit_failed", extra={"tenant": job.tenant, "action": action, "code": exc.code}
            )

    def _link(self, job: _Job, issue: Issue) -> None:
        if self.links is None or job.event.subject is None:
            return
        try:
            self.links.ensure(job.tenant, job.event.subject, issue.ref, actor=ACTOR, type="auto_created")
        except TrackbridgeError as exc:
            logger.warning(
                "auto_issue.link_failed",
                extra={"tenant": job.tenant, "issue_ref": issue.ref, "code": exc.code},
            )


__all__ = [
    "TRACKER_RULES",
    "AutoIssueService",
    "ClaimBusy",
    "Enricher",
    "EventOutcome",
    "RuleOutcome",
    "TrackerRules",
    "tracker_rules",
]
