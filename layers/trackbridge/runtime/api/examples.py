"""An example of every body the API takes and answers, as the OpenAPI document shows it (``examples``).

One table, by component schema name, so that the models stay free of documentation and one place shows what
a client sees. ``Page_<Model>_`` listings need no entry: their example is one ``<Model>`` and a cursor.
``tests/unit/api/test_openapi.py`` checks that every schema an operation takes or answers has an example and
that each example is valid against its schema and against the pydantic model behind it, so an example
cannot drift from the model it shows.

The values are those of one story: the demo tenant's GitHub connection ``web`` syncs ``acme/web``, whose
issue #12 is mirrored as ``conn_k7mq4xw2p5rtz3nb6hcd.3051224``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

CONNECTION_ID: Final = "conn_k7mq4xw2p5rtz3nb6hcd"
OPERATION_ID: Final = "op_d4hk6m2pr7tv5xz3abce"
ISSUE_REF: Final = f"{CONNECTION_ID}.3051224"
CREATED: Final = "2026-03-02T09:14:05Z"
UPDATED: Final = "2026-03-04T16:40:22Z"
# What a sealed next_cursor looks like: opaque, to be passed back as it is.
CURSOR: Final = "AWq3J0x9mS2fV8tYc1pQeR4nK7uZbHd6LwGiTo5aNjXy0Ms3EvBr8CkUh2Pz"

_CONNECTION: Final[dict[str, Any]] = {
    "id": CONNECTION_ID,
    "name": "web",
    "provider": "github",
    "base_url": "https://api.github.com",
    "scope": {"repo": "acme/web"},
    "schedule": {"expression": "rate(15 minutes)", "timezone": "UTC"},
    "entities": ["issues", "comments"],
    "include_closed": True,
    "has_credentials": True,
    "has_webhook_secret": True,
    "auth": "token",
    "site_url": None,
    "created_at": CREATED,
    "updated_at": UPDATED,
    "version": 3,
}
_WEBHOOK: Final[dict[str, Any]] = {
    "status": "active",
    "last_delivery_at": UPDATED,
    "fallback": False,
    "reason": None,
    "hook_id": "498234811",
    "kind": "github",
    "url": f"https://api.example.com/v1/webhooks/github/{CONNECTION_ID}",
    "registered_at": CREATED,
    "checked_at": UPDATED,
    "expires_at": None,
}
_LINK: Final[dict[str, Any]] = {
    "id": "link_b6fj4nr2v6zd4hlq7w3m",
    "object": {"kind": "table", "database": "analytics", "schema": "public", "name": "orders"},
    "issue_ref": ISSUE_REF,
    "type": "manual",
    "created_by": "api_key:k3ydf7hj2ln6pr4abc5e",
    "created_at": UPDATED,
}
_ISSUE: Final[dict[str, Any]] = {
    "ref": ISSUE_REF,
    "external_id": "github:https://github.com/acme/web:3051224",
    "connection_id": CONNECTION_ID,
    "provider": "github",
    "key": "#12",
    "title": "Checkout fails when the cart is empty",
    "body": "Steps:\n1. Empty the cart\n2. Press *Checkout*\n\nThe page answers 500.",
    "status": "open",
    "status_category": "todo",
    "assignees": ["octocat"],
    "labels": ["bug", "checkout"],
    "priority": None,
    "url": "https://github.com/acme/web/issues/12",
    "created_at": CREATED,
    "updated_at": UPDATED,
    "deleted_at": None,
    "content_hash": "9f2c4e1a7b3d5f60",
    "links": [_LINK],
}
_COMMENT: Final[dict[str, Any]] = {
    "id": "1893402211",
    "issue_ref": ISSUE_REF,
    "connection_id": CONNECTION_ID,
    "author": "octocat",
    "body": "Reproduced on staging; the cart total is `null`.",
    "created_at": UPDATED,
    "updated_at": UPDATED,
    "deleted_at": None,
    "content_hash": "51be03d7c2a94e18",
}
_WORKLOG: Final[dict[str, Any]] = {
    "id": "10422",
    "issue_ref": f"{CONNECTION_ID}.10002",
    "connection_id": CONNECTION_ID,
    "author": "5b10ac8d82e05b22cc7d4ef5",
    "time_spent_s": 5400,
    "started_at": "2026-03-03T13:00:00Z",
    "comment": "Bisected to the cart refactoring",
    "created_at": UPDATED,
    "updated_at": UPDATED,
    "deleted_at": None,
    "content_hash": "0c7a19e4b2f85d36",
}
_OPERATION: Final[dict[str, Any]] = {
    "id": OPERATION_ID,
    "connection_id": CONNECTION_ID,
    "mode": "incremental",
    "entities": ["issues", "comments"],
    "include_closed": True,
    "status": "Completed",
    "progress": {"stage": "done", "processed": 42, "total": 42, "estimated": False, "resume_at": None},
    "results": {
        "created": 3,
        "updated": 5,
        "unchanged": 34,
        "deleted": 1,
        "failed": 0,
        "errors": [],
    },
    "requests": 7,
    "created_at": UPDATED,
    "started_at": UPDATED,
    "finished_at": "2026-03-04T16:40:31Z",
    "triggered_by": "api_key:k3ydf7hj2ln6pr4abc5e",
}
_COUNTERS: Final[dict[str, int]] = {
    "items.created": 40,
    "items.unchanged": 310,
    "requests.github": 52,
    "syncs.completed": 12,
}
_ERROR: Final[dict[str, Any]] = {
    "code": "NOT_FOUND",
    "message": "no connection conn_k7mq4xw2p5rtz3nb6hcd",
    "details": None,
}

SCHEMA_EXAMPLES: Final[Mapping[str, Any]] = {
    "RotatedWebhookSecret": {
        "connection_id": "conn_k7mq4xw2p5rtz3nb6hcd",
        "webhook_secret": "whsec_ZXhhbXBsZS1vbmx5LW5vdC1hLXJlYWwtc2VjcmV0IQ==",
        "previous_secret_kept": True,
        "rotated_at": UPDATED,
    },
    # ---- errors
    "Error": {"error": _ERROR},
    "ErrorDetail": _ERROR,
    # ---- health
    "HealthReport": {
        "status": "degraded",
        "reasons": ["dlq.sync: 2 messages"],
        "checks": {
            "dynamodb": {"status": "ok", "latency_ms": 6.2, "error": None, "details": None},
            "sqs": {"status": "ok", "latency_ms": 9.8, "error": None, "details": None},
            "secretsmanager": {"status": "ok", "latency_ms": 11.4, "error": None, "details": None},
            "scheduler": {"status": "ok", "latency_ms": 8.1, "error": None, "details": None},
        },
        "version": "0.1.0",
        "webhooks": {"registered": 3, "active": 2, "inactive": 1, "fallback": 1},
        "dlq": {"inbound": 0, "sync": 2, "auto_issue": 0},
    },
    "TenantHealth": {
        "status": "degraded",
        "reasons": ["web: back-off ladder step 1 (rate(1 hour)) after 3 failures (PROVIDER_UNAVAILABLE)"],
        "alert_channels": [
            {
                "name": "ops-email",
                "kind": "email",
                "ok": True,
                "last_error_code": None,
                "last_failure_at": None,
                "pending_retries": 0,
            }
        ],
        "items": [
            {
                "connection_id": CONNECTION_ID,
                "name": "web",
                "provider": "github",
                "status": "degraded",
                "reasons": ["back-off ladder step 1 (rate(1 hour)) after 3 failures (PROVIDER_UNAVAILABLE)"],
                "last_successful_sync": CREATED,
                "cursor_lag_s": 5400.0,
                "last_error": "PROVIDER_UNAVAILABLE",
                "schedule": {
                    "paused": False,
                    "paused_reason": None,
                    "effective_expression": "rate(1 hour)",
                    "ladder_step": 1,
                    "consecutive_failures": 3,
                    "last_code": "PROVIDER_UNAVAILABLE",
                },
                "webhook": _WEBHOOK,
                "credentials": {"kind": "token", "valid": None, "expires_at": None, "refreshable": None},
            }
        ],
        "next_cursor": None,
    },
    "MetricsSummary": {
        "since": "2026-03-02",
        "until": "2026-03-04",
        "totals": _COUNTERS,
        "days": [{"day": "2026-03-04", "counters": _COUNTERS}],
    },
    # ---- dead-letter queues
    "DeadLetterList": {
        "queue": "sync",
        "items": [
            {
                "id": "5fea7756-0ea4-451a-a703-a558b933e274",
                "queue": "sync",
                "tenant": "demo",
                "sent_at": CREATED,
                "receive_count": 6,
                "group_id": None,
                "failure": {"code": "PROVIDER_UNAVAILABLE", "message": "GitHub answered 503", "at": UPDATED},
                "body": f'{{"tenant":"demo","kind":"continue","operation_id":"{OPERATION_ID}","slice_no":3}}',
            }
        ],
        "approximate_depth": 1,
        "complete": True,
    },
    "RedriveRequest": {"ids": ["5fea7756-0ea4-451a-a703-a558b933e274"]},
    "DeadLetterMove": {"queue": "sync", "moved": ["5fea7756-0ea4-451a-a703-a558b933e274"], "missing": []},
    # ---- connections
    "ConnectionCreate": {
        "name": "web",
        "provider": "github",
        "base_url": "https://api.github.com",
        "scope": {"repo": "acme/web"},
        "credentials": {"token": "github_pat_11AAAAAAA0example"},
        "webhook_secret": "a-long-random-string-for-webhooks",
        "schedule": {"expression": "rate(15 minutes)", "timezone": "UTC"},
        "entities": ["issues", "comments"],
        "include_closed": True,
    },
    "ConnectionPatch": {"name": "web-app", "schedule": {"expression": "cron(0 8 ? * MON-FRI *)"}},
    "Connection": _CONNECTION,
    "ConnectionView": {**_CONNECTION, "webhook": _WEBHOOK},
    "WebhookView": _WEBHOOK,
    "ConnectionTestReport": {
        "provider": "github",
        "ok": False,
        "identity": "octocat",
        "checks": [
            {
                "name": "auth",
                "ok": True,
                "message": "authenticated as octocat",
                "guidance": None,
                "code": None,
            },
            {
                "name": "webhooks",
                "ok": False,
                "message": "the token cannot manage the repository's webhooks",
                "guidance": "Give the token the admin:repo_hook permission, or leave webhooks to a scheduled "
                "sync.",
                "code": "PERMISSION_DENIED",
            },
        ],
    },
    "ProviderList": {
        "items": [
            {
                "name": "github",
                "display_name": "GitHub",
                "capabilities": {
                    "attachments": False,
                    "transitions": True,
                    "repo_wide_comments": True,
                    "conditional_requests": True,
                },
                "scope_keys": ["repo"],
                "credential_keys": ["token"],
                "default_base_url": "https://api.github.com",
                "page_size": 100,
                "incremental_overlap_s": 10.0,
                "webhook_signatures": ["hub-signature-sha256"],
                "incremental_overlap_reason": "since= is second-precise and compares GitHub's own "
                "timestamps: a small margin is enough.",
                "auth_modes": ["token"],
                "entities": ["issues", "comments"],
            }
        ],
        "next_cursor": None,
    },
    # ---- sync
    "SyncRequest": {"mode": "full", "entities": ["issues", "comments"], "include_closed": True},
    "SyncOperation": _OPERATION,
    "ScheduleState": {
        "expression": "rate(15 minutes)",
        "timezone": "UTC",
        "paused": False,
        "paused_reason": None,
        "effective_expression": "rate(1 hour)",
        "ladder_step": 1,
        "consecutive_failures": 3,
        "last_code": "PROVIDER_UNAVAILABLE",
        "slowed_until": None,
        "ladder": {
            "steps": ["rate(15 minutes)", "rate(1 hour)", "rate(6 hours)", "rate(24 hours)"],
            "threshold": 3,
            "thresholds": {},
        },
    },
    "ScheduleUpdate": {
        "expression": "cron(0/30 7-19 ? * MON-FRI *)",
        "timezone": "Europe/Berlin",
        "ladder": {"steps": ["rate(30 minutes)", "rate(2 hours)", "rate(12 hours)"], "threshold": 3},
    },
    "PauseRequest": {"reason": "tracker maintenance until Monday"},
    "SyncLogEntry": {
        "operation_id": OPERATION_ID,
        "connection_id": CONNECTION_ID,
        "seq": 4,
        "at": UPDATED,
        "level": "info",
        "event": "sync.page",
        "message": "issues: 42 fetched",
        "data": {"entity": "issues", "fetched": 42},
    },
    "SyncStates": {
        "items": [
            {
                "connection_id": CONNECTION_ID,
                "entity": "issues",
                "status": "idle",
                "high_water": "2026-03-04T16:40:12Z",
                "signpost": None,
                "phase": None,
                "last_operation_id": OPERATION_ID,
                "last_success_at": "2026-03-04T16:40:31Z",
                "last_error": None,
                "updated_at": "2026-03-04T16:40:31Z",
            }
        ],
        "next_cursor": None,
    },
    # ---- repository activity
    "RepositoryActivity": {
        "connection_id": CONNECTION_ID,
        "provider": "github",
        "repository": "acme/web",
        "weeks": [
            {
                "week": "2026-W09",
                "starts_on": "2026-02-23",
                "commits": 14,
                "opened": 3,
                "merged": 2,
                "closed": 0,
            },
            {
                "week": "2026-W10",
                "starts_on": "2026-03-02",
                "commits": 9,
                "opened": 2,
                "merged": 3,
                "closed": 1,
            },
        ],
        "totals": {
            "week": "2026-W09..2026-W10",
            "starts_on": "2026-02-23",
            "commits": 23,
            "opened": 5,
            "merged": 5,
            "closed": 1,
        },
        "open_requests": {"count": 4, "median_age_days": 6.5, "oldest_age_days": 21.25, "oldest_number": 31},
        "releases": {
            "releases": 2,
            "median_days_between": 7.0,
            "last_release": {"tag": "v2.4.0", "released_at": "2026-03-03T10:00:00Z"},
        },
        "languages": {"Python": 88.4, "Shell": 11.6},
        "window_start": "2026-02-23T00:00:00Z",
        "as_of": UPDATED,
        "last_synced_at": "2026-03-04T16:40:31Z",
        "high_water": "2026-03-04T16:40:12Z",
    },
    # ---- synced issues
    "IssueView": _ISSUE,
    "IssueDetail": {**_ISSUE, "comments": [_COMMENT], "worklogs": []},
    "Comment": _COMMENT,
    "Worklog": _WORKLOG,
    "User": {
        "id": "583291",
        "connection_id": CONNECTION_ID,
        "login": "octocat",
        "display_name": "The Octocat",
        "email": None,
        "active": True,
        "updated_at": UPDATED,
        "content_hash": "0c8e21f4a95b7d36",
    },
    "Sprint": {
        "id": "37",
        "connection_id": CONNECTION_ID,
        "name": "ACME Sprint 12",
        "state": "active",
        "board_id": "84",
        "goal": "Checkout is reliable",
        "start_at": CREATED,
        "end_at": "2026-03-18T09:00:00Z",
        "complete_at": None,
        "deleted_at": None,
        "updated_at": UPDATED,
        "content_hash": "7d1f0a92c4be6358",
    },
    # ---- tracker actions
    "IssueCreate": {
        "title": "Checkout fails when the cart is empty",
        "body": "Steps:\n1. Empty the cart\n2. Press *Checkout*",
        "labels": ["bug"],
        "assignees": ["octocat"],
    },
    "IssuePatch": {"title": "Checkout fails on an empty cart", "add_labels": ["triaged"]},
    "CommentCreate": {"body": "Fixed in #14; please verify on staging."},
    "TransitionRequest": {"status_category": "done", "reason": "completed"},
    "Transitions": {
        "items": [
            {"id": "31", "name": "Start progress", "to_status": "In Progress", "to_category": "in_progress"}
        ],
        "next_cursor": None,
    },
    "AttachmentView": {
        "id": "10233",
        "issue_key": "OPS-12",
        "filename": "trace.log",
        "url": "https://acme.atlassian.net/rest/api/3/attachment/content/10233",
        "size": 18211,
        "content_type": "text/plain",
    },
    "Body_attachFile": {"file": "2026-03-04T16:40:22Z ERROR checkout: cart total is null\n"},
    "BulkCreate": {"op": "create", "title": "Rotate the staging certificates", "labels": ["ops"]},
    "BulkUpdate": {"op": "update", "key": "12", "add_labels": ["triaged"]},
    "BulkRequest": {
        "items": [
            {"op": "create", "title": "Rotate the staging certificates", "labels": ["ops"]},
            {"op": "update", "key": "12", "add_labels": ["triaged"]},
        ]
    },
    "BulkResult": {
        "items": [
            {"index": 0, "status": 201, "issue": {**_ISSUE, "key": "#13", "links": []}, "error": None},
            {
                "index": 1,
                "status": 404,
                "issue": None,
                "error": {"code": "NOT_FOUND", "message": "no issue 12 in acme/web", "details": None},
            },
        ],
        "succeeded": 1,
        "failed": 1,
    },
    # ---- keys and audit
    "ApiKeyView": {
        "id": "k3ydf7hj2ln6pr4abc5e",
        "tenant": "acme",
        "created_at": CREATED,
        "last_used_at": UPDATED,
        "scopes": ["issues:read", "sync:read"],
        "revoked_at": None,
    },
    "AuditEntry": {
        "id": "aud_c6gk4os2w6ae4i2mq7nx",
        "at": UPDATED,
        "actor": "k3ydf7hj2ln6pr4abc5e",
        "action": "connection.update",
        "target": CONNECTION_ID,
        "request_id": "8d3b9f0e-52c1-4f7a-a0e6-2f4d1c9b7a31",
        "changes": {"name": {"old": "web", "new": "web-app"}},
    },
    # ---- Jira OAuth
    "OAuthConnectionRef": {"connection_id": CONNECTION_ID},
    "AuthorizationStarted": {
        "authorization_url": "https://auth.atlassian.com/authorize?audience=api.atlassian.com"
        "&client_id=Q2xpZW50SWQ&scope=read%3Ajira-work%20offline_access&state=eyJ0IjoiYWNtZSJ9.c2ln"
        "&response_type=code&prompt=consent",
        "state_expires_at": "2026-03-04T16:50:22Z",
        "nonce": "d0c5c2a8b6e94f1e8a7b3c9d2e6f4a10",
    },
    "OAuthCallbackResult": {
        "status": "connected",
        "message": "Jira is connected to trackbridge; you can close this window.",
    },
    "OAuthErrorBody": {
        "error": {
            "code": "OAUTH_STATE_EXPIRED",
            "message": "the authorization took longer than 10 minutes",
            "details": None,
            "guidance": "Call POST /v1/oauth/jira/start again and follow the new URL from the same browser.",
        }
    },
    "OAuthRevoked": {
        "status": "revoked",
        "revoked_at_provider": False,
        "forgot_tokens": True,
        "guidance": "Atlassian offers no revocation endpoint: also remove the app under your Atlassian "
        "account's Connected apps to end its access there.",
        "connection": {
            **_CONNECTION,
            "provider": "jira",
            "name": "ops",
            "base_url": "https://api.atlassian.com/ex/jira/11223344-a1b2-3b33-c444-def123456789",
            "scope": {"project": "OPS"},
            "has_credentials": False,
            "has_webhook_secret": False,
            "auth": "oauth",
            "site_url": "https://acme.atlassian.net",
        },
    },
}


def page_example(item: Any) -> dict[str, Any]:
    """The example of a ``Page_<Model>_`` listing: one item and the cursor to the next page."""
    return {"items": [item], "next_cursor": CURSOR}


__all__ = ["CURSOR", "SCHEMA_EXAMPLES", "page_example"]
