"""Auto-issue end to end on the embedded stack, for GitHub, GitLab and Jira targets.

CloudWatch state changes take production's path: an alarm changed with ``set_alarm_state`` on moto (the
stack's alarm bridge announces it), or a fixture of ``shared/fixtures/aws`` put on moto's default bus, or an
SNS notification published to a topic the auto-issue queue subscribes to; moto's EventBridge rule or SNS puts
it on the auto-issue queue, the stack's poller hands it to the auto-issue function (``RecordingAutoIssue``:
the real record handler, with each record's outcome kept so a test waits on it), and the issue is read back
at the sandbox tracker through the connection's adapter. Rules and templates are made through the API.

Each test uses its own alarm names and a rule whose condition names them, deleted at the end, so no test
sees another's events. The stack's visibility timeout is 3 s, so a failed record comes back quickly.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.local.stack import LocalStack
from tests.e2e.test_readme_examples import run_example
from tests.support.auto_issue import (
    FIXTURES,
    SNS_FIXTURE,
    RecordingAutoIssue,
    Trackbridge,
    alarm_detail,
    fixture,
    put_alarm,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("auto-issue-e2e"), pytest.mark.timeout(1200)]

PROVIDERS = ("github", "gitlab", "jira")
VISIBILITY_S = 3
# What each shape's rendering shows of its own configuration (Markdown survives Jira's ADF round trip).
SHOWS = {
    "single_metric": "AWS/EC2/CPUUtilization",
    "composite": "ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)",
    "metric_math": "SUM(METRICS())",
    "anomaly_detection": "greater than the upper thresholds",
    "sns": "AWS/EC2/NetworkOut",
}


@pytest.fixture(scope="module")
def recorder() -> RecordingAutoIssue:
    return RecordingAutoIssue()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory laid out like the repository's root for the README's example (``.venv``, and the stack's
    ``.trackbridge/local.json``)."""
    root = tmp_path_factory.mktemp("checkout")
    (root / ".venv").symlink_to(Path(sys.prefix))
    return root


@pytest.fixture(scope="module")
def stack(checkout: Path, recorder: RecordingAutoIssue) -> Iterator[LocalStack]:
    running = LocalStack(
        port=0,
        state_dir=checkout / ".trackbridge",
        stage="autoissuee2e",
        visibility_timeout_s=VISIBILITY_S,
        functions={"auto_issue": recorder},
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tb(stack: LocalStack) -> Iterator[Trackbridge]:
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    with httpx.Client(base_url=stack.api_url, headers=headers, timeout=120, trust_env=False) as api:
        yield Trackbridge(stack, api)


@pytest.fixture(scope="module")
def alarm_topic(stack: LocalStack) -> str:
    """An SNS topic the auto-issue queue subscribes to (envelope kept: not raw delivery), as teams that route
    alarms through SNS set it up."""
    assert stack.resources is not None
    sns = stack.resources.client("sns")
    topic = str(sns.create_topic(Name="autoissue-e2e-alarms")["TopicArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=stack.resources.queue_arns["auto_issue"])
    return topic


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def alarm_rule(
    tb: Trackbridge, provider: str, name: str, alarms: list[str], **changes: Any
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": name,
        "event_type": "cloudwatch.alarm",
        "condition": f"alarm.name in {alarms!r}",
        "connection_id": tb.connection(provider),
        "template": "cloudwatch-alarm",
        "labels": ["ops"],
        "dedup": {"key": "{{ alarm.name }}", "reopen_window": 3600, "repeat_window": 0},
        "on_resolve": "close",
        "settle_s": 0,
    }
    fields.update(changes)
    return fields


def wait_outcome(recorder: RecordingAutoIssue, rule: str, outcome: str, n: int = 1) -> None:
    wait_until(
        lambda: recorder.count(rule, outcome) >= n,
        f"{n} {outcome!r} of rule {rule} (so far {dict(recorder.of_rule(rule))}, failures "
        f"{dict(recorder.failures)})",
    )


def created_issue(tb: Trackbridge, provider: str, alarm: str) -> dict[str, Any]:
    """The issue auto-issue opened for ``alarm`` (the synced copy it wrote through)."""
    return wait_until(lambda: tb.synced(provider, f"[ALARM] {alarm}"), f"the issue of {alarm}")


def put_state(tb: Trackbridge, shared_dir: Path, name: str, state: str, reason: str | None = None) -> None:
    put_alarm(tb.stack, alarm_detail(shared_dir, "single_metric", name=name, state=state, reason=reason))


def close_as_wont_fix(tb: Trackbridge, provider: str, key: str) -> None:
    """A person closes the issue as won't-fix, the tracker's own way."""
    from trackbridge.providers.types import IssueChanges

    with tb.adapter(provider) as adapter:
        if provider == "github":
            adapter.transition_issue(key, "close_not_planned")
        elif provider == "gitlab":
            adapter.update_issue(key, IssueChanges(add_labels=("wontfix",)))
            adapter.transition_issue(key, "close")
        else:
            done = next(t for t in adapter.list_transitions(key) if t.to_category == "done")
            adapter.send_json(
                "POST",
                f"rest/api/3/issue/{key}/transitions",
                json={"transition": {"id": done.id}, "fields": {"resolution": {"name": "Won't Do"}}},
            )


# ---- every shape, one issue each ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_alarm_shape_opens_exactly_one_issue_with_the_rendered_template(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path, alarm_topic: str, provider: str
) -> None:
    # Given a rule for six alarms: the four EventBridge shapes and one routed through SNS
    names = {shape: unique(shape.replace("_", "-")) for shape in (*FIXTURES, "sns")}
    rule = unique(f"shapes-{provider}")
    sns = tb.stack.resources.client("sns")
    notification = json.loads(fixture(shared_dir, SNS_FIXTURE)["Records"][0]["Sns"]["Message"])
    notification["AlarmName"] = names["sns"]

    def fire() -> None:
        for shape in FIXTURES:
            put_alarm(tb.stack, alarm_detail(shared_dir, shape, name=names[shape]))
        sns.publish(TopicArn=alarm_topic, Message=json.dumps(notification), Subject="ALARM")

    with tb.rule(**alarm_rule(tb, provider, rule, list(names.values()))):
        before = tb.issues_at(provider)
        # When each fires, and then fires again (new events, same alarms)
        fire()
        wait_outcome(recorder, rule, "created", len(names))
        fire()
        wait_outcome(recorder, rule, "commented", len(names))

    # Then one issue per alarm at the tracker, each rendered from the template, linked to its alarm
    assert tb.issues_at(provider) == before + len(names)
    assert recorder.count(rule, "created") == len(names)
    for shape, name in names.items():
        synced = created_issue(tb, provider, name)
        stored = tb.at_tracker(provider, synced["key"])
        assert stored.title == f"[ALARM] {name}"
        assert name in stored.body
        assert SHOWS[shape] in stored.body, (shape, stored.body)
        assert "Opened by trackbridge rule" in stored.body
        assert "ops" in stored.labels
        links = tb.links_of(synced["ref"])
        assert [(link["type"], link["object"]["kind"], link["object"]["name"]) for link in links] == [
            ("auto_created", "alarm", name)
        ]


# ---- lifecycle ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_set_alarm_state_opens_ok_closes_and_a_recurrence_reopens_the_same_issue(
    tb: Trackbridge, recorder: RecordingAutoIssue, provider: str
) -> None:
    # Given a metric alarm on moto and a rule that closes on OK
    name, rule = unique("cpu"), unique(f"life-{provider}")
    cloudwatch = tb.stack.resources.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
        AlarmDescription="CPU too high",
    )

    def change(state: str, reason: str) -> None:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)

    with tb.rule(**alarm_rule(tb, provider, rule, [name])):
        before = tb.issues_at(provider)
        # When it goes into ALARM: an issue
        change("ALARM", "Threshold Crossed: 1 datapoint [97.0] was greater than the threshold (50.0)")
        wait_outcome(recorder, rule, "created")
        key = created_issue(tb, provider, name)["key"]
        stored = tb.at_tracker(provider, key)
        assert "CPU too high" in stored.body
        assert "AWS/EC2/CPUUtilization" in stored.body
        # When it returns to OK: closed at the tracker
        change("OK", "Threshold Crossed: back under")
        wait_outcome(recorder, rule, "resolved")
        assert tb.at_tracker(provider, key).status_category == "done"
        # When it fires again within the reopen window: the same issue reopens
        change("ALARM", "Threshold Crossed again")
        wait_outcome(recorder, rule, "reopened")
        assert tb.at_tracker(provider, key).status_category != "done"
    assert tb.issues_at(provider) == before + 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_recurrence_after_the_reopen_window_opens_a_new_issue_naming_the_old(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path, provider: str
) -> None:
    name, rule = unique("disk"), unique(f"window-{provider}")
    fields = alarm_rule(tb, provider, rule, [name], dedup={"key": "{{ alarm.name }}", "reopen_window": 0})
    with tb.rule(**fields):
        before = tb.issues_at(provider)
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "created")
        old = created_issue(tb, provider, name)
        put_state(tb, shared_dir, name, "OK")
        wait_outcome(recorder, rule, "resolved")
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "created", 2)
    assert tb.issues_at(provider) == before + 2
    with tb.adapter(provider) as adapter:
        found = [i for i in adapter.search_issues(tb.sandbox(provider).search_query(name), limit=10)]
    newest = max((i for i in found if i.key != old["key"]), key=lambda i: i.created_at)
    assert "This happened before" in newest.body
    assert tb.at_tracker(provider, old["key"]).status_category == "done"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_person_closing_as_wont_fix_keeps_it_closed(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path, provider: str
) -> None:
    name, rule = unique("queue"), unique(f"wontfix-{provider}")
    with tb.rule(**alarm_rule(tb, provider, rule, [name])):
        before = tb.issues_at(provider)
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "created")
        key = created_issue(tb, provider, name)["key"]
        # When a person closes it as won't-fix and the alarm fires again within the reopen window
        close_as_wont_fix(tb, provider, key)
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "kept_closed")
    # Then it stays closed, and no other issue is opened
    assert tb.at_tracker(provider, key).status_category == "done"
    assert tb.issues_at(provider) == before + 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_wont_fix_issue_stays_closed_and_is_not_followed_by_a_new_one_after_the_window(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path, provider: str
) -> None:
    """A person's won't-fix is a decision about the alarm, not about one occurrence of it: the rule keeps it
    closed after the reopen window too (an ordinary close is followed by a new issue; see above). The
    README's auto-issue section says so; delete the rule or its fingerprint to start again."""
    name, rule = unique("cache"), unique(f"wontfix-later-{provider}")
    dedup = {"key": "{{ alarm.name }}", "reopen_window": 0, "repeat_window": 0}
    fields = alarm_rule(tb, provider, rule, [name], dedup=dedup)
    with tb.rule(**fields):
        before = tb.issues_at(provider)
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "created")
        key = created_issue(tb, provider, name)["key"]
        close_as_wont_fix(tb, provider, key)
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "kept_closed")
    assert recorder.of_rule(rule) == {"created": 1, "kept_closed": 1}
    assert tb.issues_at(provider) == before + 1
    assert tb.at_tracker(provider, key).status_category == "done"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_flapping_alarm_keeps_one_open_issue_until_the_recovery_settles(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path, provider: str
) -> None:
    # Given a rule whose recoveries must hold 15 s (far longer than one event's processing here)
    name, rule = unique("flap"), unique(f"flap-{provider}")
    with tb.rule(**alarm_rule(tb, provider, rule, [name], settle_s=15)):
        before = tb.issues_at(provider)
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "created")
        key = created_issue(tb, provider, name)["key"]
        # When it flaps: OK (parked for the settle time), ALARM again before the recovery settles
        for flap in range(1, 3):
            put_state(tb, shared_dir, name, "OK")
            wait_outcome(recorder, rule, "parked", flap)
            put_state(tb, shared_dir, name, "ALARM")
            wait_outcome(recorder, rule, "commented", flap)
        # Then each parked recovery finds it fired since and does nothing: one issue, still open
        wait_outcome(recorder, rule, "ignored", 2)
        assert tb.at_tracker(provider, key).status_category != "done"
        assert recorder.count(rule, "resolved") == 0
        # A recovery that holds closes it
        put_state(tb, shared_dir, name, "OK")
        wait_outcome(recorder, rule, "resolved")
        assert tb.at_tracker(provider, key).status_category == "done"
    assert tb.issues_at(provider) == before + 1


# ---- failures: a crash, a rate-limited tracker -------------------------------------------------------------


class InjectedCrash(Exception):
    """The worker dies between the claim and the tracker call."""


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_crash_between_claim_and_create_still_makes_one_issue(
    tb: Trackbridge,
    recorder: RecordingAutoIssue,
    shared_dir: Path,
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first run claims the fingerprint and dies (the service's ``crash_after_claim`` hook); SQS brings
    the message back after the visibility timeout; the claim is stale by then (2 s here instead of 300 s, the
    only difference from the container's service), so the retry searches the tracker for the claim's marker,
    finds nothing, takes the claim over and creates the one issue."""
    crashes: list[int] = []

    def crash_once() -> None:
        if not crashes:
            crashes.append(1)
            raise InjectedCrash("the worker died after claiming")

    quick_stale_claims(monkeypatch, crash_after_claim=crash_once)
    name, rule = unique("crash"), unique(f"crash-{provider}")
    crashed_before = recorder.failed("InjectedCrash")
    with tb.rule(**alarm_rule(tb, provider, rule, [name])):
        before = tb.issues_at(provider)
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "created")
        # A duplicate of the event afterwards is a repeat, not a second issue
        put_state(tb, shared_dir, name, "ALARM")
        wait_outcome(recorder, rule, "commented")
    assert recorder.failed("InjectedCrash") == crashed_before + 1
    assert tb.issues_at(provider) == before + 1
    synced = created_issue(tb, provider, name)
    assert [link["type"] for link in tb.links_of(synced["ref"])] == ["auto_created"]


def quick_stale_claims(monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> None:
    """The stack's auto-issue service with claims stale after 2 s instead of 300 s (and ``overrides``)."""
    from trackbridge.runtime import container
    from trackbridge.runtime.automation.service import AutoIssueService

    real = container.auto_issue_service()
    service = AutoIssueService(
        rules=real.rules,
        templates=real.templates,
        claims=real.claims,
        connections=real.connections,
        adapters=real.adapters,
        requeue=real.requeue,
        audit=real.audit,
        links=real.links,
        issues=real.issues,
        comments=real.comments,
        stale_after=timedelta(seconds=2),
        **overrides,
    )
    monkeypatch.setattr(container, "auto_issue_service", lambda: service)


def dlq_depth(tb: Trackbridge) -> int:
    answer = tb.api.get("/dlq/auto_issue")
    assert answer.status_code == 200, answer.text
    return len(answer.json()["items"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_429_storm_from_the_tracker_parks_the_jobs_and_drops_nothing(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path, provider: str
) -> None:
    # Given a tracker that answers the next 6 requests with 429 and Retry-After: 1
    names, rule = [unique("storm") for _ in range(3)], unique(f"ratelimit-{provider}")
    sandbox = tb.sandbox(provider)
    parked_before = recorder.count("*", "parked")
    with tb.rule(**alarm_rule(tb, provider, rule, names)):
        before = tb.issues_at(provider)
        sandbox.add_faults([{"route": "*", "status": 429, "retry_after_s": 1, "times": 6}])
        try:
            # When three alarms fire
            for name in names:
                put_state(tb, shared_dir, name, "ALARM")
            wait_outcome(recorder, rule, "created", len(names))
        finally:
            sandbox.clear_faults()
    # Then each 429 parked its job on the queue (a create refused is one request), and each alarm has
    # exactly one issue once the 429s cleared
    assert recorder.count("*", "parked") == parked_before + 6
    assert tb.issues_at(provider) == before + len(names)
    for name in names:
        created_issue(tb, provider, name)
    assert dlq_depth(tb) == 0


def test_a_429_on_jiras_read_back_after_the_create_does_not_duplicate(
    tb: Trackbridge, recorder: RecordingAutoIssue, shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jira creates with a POST and the adapter reads the issue back with a GET. A 429 on the GET is not
    "nothing was created" (the claim would be released and the retry would open a second issue): the adapter
    reports an unknown outcome, the claim stays, and once it is stale the retry finds the issue by its
    marker and records it (``recovered``)."""
    quick_stale_claims(monkeypatch)
    name, rule = unique("readback"), unique("readback-jira")
    sandbox = tb.sandbox("jira")
    with tb.rule(**alarm_rule(tb, "jira", rule, [name])):
        before = tb.issues_at("jira")
        sandbox.add_faults(
            [{"route": "GET /rest/api/3/issue/{issueIdOrKey}", "status": 429, "retry_after_s": 1, "times": 1}]
        )
        try:
            put_state(tb, shared_dir, name, "ALARM")
            wait_until(
                lambda: recorder.count(rule, "created") + recorder.count(rule, "recovered") >= 1,
                "the issue",
            )
        finally:
            sandbox.clear_faults()
    assert tb.issues_at("jira") == before + 1


# ---- hostile templates and event data; redaction -----------------------------------------------------------

SSTI_TEMPLATES = {
    "attribute-walk": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "dunder-class": "{{ event.__class__ }}",
    "cycler-globals": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "joiner-globals": "{{ joiner.__init__.__globals__ }}",
    "namespace-globals": "{{ namespace.__init__.__globals__ }}",
    "format-walk": "{{ '{0.__class__}'.format(event) }}",
    "huge-loop": "{% for i in range(10**9) %}{% for j in range(10**9) %}x{% endfor %}{% endfor %}",
    "huge-output": "{{ 'x' * 1000000000 }}",
    # Unbounded, about 10 GB before any output limit: the join and replace filters check their result first.
    "huge-join": "{{ ('x' * 99999) | join('y' * 99999) }}",
    "huge-replace": "{{ ('x' * 99999) | replace('x', 'y' * 99999) }}",
    "doubling-concat": "{% set s = 'x' * 99999 %}{% set s = s ~ s %}{% set s = s ~ s %}{{ s }}",
}
LEAKS = ("<class", "__globals__", "subclasses", "builtins", "uid=", "function", "module")


@pytest.mark.parametrize("payload", sorted(SSTI_TEMPLATES))
def test_a_hostile_template_is_refused_at_save_or_renders_inert(tb: Trackbridge, payload: str) -> None:
    name = unique(f"ssti-{payload}")
    body = {"name": name, "title": "t {{ event.type }}", "body": SSTI_TEMPLATES[payload]}
    saved = tb.api.post("/templates", json=body)
    if saved.status_code == 422:
        assert saved.json()["error"]["code"], saved.text
        return
    assert saved.status_code == 201, saved.text
    try:
        preview = tb.api.post(f"/templates/{name}/preview", json=None)
        assert preview.status_code < 500, preview.text
        if preview.status_code == 200:
            rendered = preview.json()["body"]
            assert len(rendered) <= 100_000
            assert not any(leak in rendered for leak in LEAKS), rendered[:500]
    finally:
        tb.api.delete(f"/templates/{name}")


def fake_secrets() -> dict[str, str]:
    """Obviously fake, assembled at run time: shaped like what the redactor must catch."""
    return {
        "aws_key": "AKIA" + "FAKE" * 4,
        "password": "pa" + "ss-" + "not-real-" + uuid.uuid4().hex[:6],
        "email": "oncall." + uuid.uuid4().hex[:6] + "@" + "example.com",
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_hostile_event_data_renders_inert_and_secrets_never_reach_the_tracker(
    tb: Trackbridge, recorder: RecordingAutoIssue, provider: str
) -> None:
    # Given a generic rule, and an event whose data carries template syntax and seeded secrets
    fake = fake_secrets()
    marker = unique("inert")
    data = {
        "marker": marker,
        "probe": "{{ 7*7 }} {{ cycler.__init__.__globals__ }} {% for x in range(9) %}z{% endfor %}",
        "dsn": f"postgresql://app:{fake['password']}@db.internal:5432/sales",
        "access_key": fake["aws_key"],
        "owner": fake["email"],
    }
    rule = unique(f"inert-{provider}")
    fields = {
        "name": rule,
        "event_type": "app.inert-check",
        "condition": f"event.data.marker == '{marker}'",
        "connection_id": tb.connection(provider),
        "template": "generic-event",
        "dedup": {"key": "{{ event.data.marker }}"},
    }
    with tb.rule(**fields):
        sent = tb.api.post(
            "/events",
            json={
                "type": "app.inert-check",
                "source": "e2e",
                "severity": "high",
                "subject": {"kind": "service", "name": marker},
                "data": data,
            },
        )
        assert sent.status_code == 202, sent.text
        event_id = sent.json()["event_id"]
        receipt = wait_until(
            lambda: (r := tb.api.get(f"/events/{event_id}").json()).get("status") == "processed" and r,
            "the event's receipt",
        )
    # Then the issue at the tracker shows the payload as text, never evaluated, and no secret
    ref = receipt["issue_ref"]
    key = tb.api.get(f"/issues/{ref}").json()["key"]
    stored = tb.at_tracker(provider, key)
    text = f"{stored.title}\n{stored.body}"
    assert "7*7" in text
    assert "zzzzzzzzz" not in text
    for secret in fake.values():
        assert secret not in text, secret
    assert "(redacted)" in text
    assert [(link["type"], link["object"]["name"]) for link in tb.links_of(ref)] == [("auto_created", marker)]


# ---- the README's worked example ---------------------------------------------------------------------------


def test_the_readmes_worked_example_runs_as_written(
    tb: Trackbridge, checkout: Path, recorder: RecordingAutoIssue
) -> None:
    # Given the README's auto-issue block; When bash runs it in a plain shell against this stack
    out = run_example("auto-issue", checkout, tb.stack)

    # Then it saved the template and the rule, the event became an issue, and the sandbox shows it rendered
    lines = out.splitlines()
    assert lines[:2] == ["orders-db-alarm", "orders-db-cpu"], out
    assert recorder.count("orders-db-cpu", "created") == 1
    title = "orders-db-cpu: AWS/RDS/CPUUtilization [DBInstanceIdentifier=orders-db] is ALARM  [ops, database]"
    assert any(line.endswith(title) for line in lines), out
    assert "- **Threshold:** 80.0" in lines, out
    assert "- **Recent datapoints:** 93.5" in lines, out
    assert "Runbook: https://runbooks.example.com/orders-db-cpu" in lines, out
    assert (tb.stack.api_key or "-") not in out
