"""trackbridge.providers: one adapter per issue tracker behind one protocol, over httpx.

Public surface (import from the submodules; this package does not import them eagerly, so importing one
adapter's helpers never pays for every adapter):

- ``base``: :class:`TrackerAdapter`, the base class that owns the request algorithm, the page loop and the
  connection test; adapters declare their variation as class attributes.
- ``types``: ``TrackerConfig``, ``Capabilities``, ``Page``/``IssuePage``/``CommentPage``,
  ``ConnectionReport``, ``IssueDraft``, ``IssueChanges``, ``Transition``, ``Attachment``,
  ``WebhookRegistration``, ``WebhookDelivery``/``WebhookChange``, ``RequestStats``.
- ``errors``: the ``TrackerError`` family, a branch of ``domain.errors``' one tree; codes in
  ``domain.error_codes``.
- ``webhooks``: reading a delivery's body (``WebhookPayloadError``); each adapter's ``parse_webhook``.
- ``classify``: table-driven error classification (``ErrorRule``).
- ``ratelimit``: rate-limit header readers (GitHub, GitLab, Jira) and ``RateLimitInfo``.
- ``retry``: ``RetryPolicy``; ``etags``: ``ETagCache`` for conditional requests.
- ``pagination``: ``PageCursor`` and the paginators (Link header, token, offset, Relay cursor).
- ``signatures``: webhook signature schemes (``HubSignature``, ``PlainToken``, ``StandardWebhooks``).
- ``auth``: ``httpx.Auth`` objects that never show their secret, and the per-provider auth schemes.
- ``registry``: ``PROVIDERS``, ``get_adapter_class``, ``supported_providers``, ``capabilities``,
  ``describe_providers``, ``auth_from_credentials``, ``create_adapter``.
- ``forge``: ``ForgeAdapter``, what GitHub and GitLab share (issues with open/closed states, hooks, search).
- ``github``, ``gitlab`` (and ``jira``): the adapters. Each names its declaration (``domain.trackers``);
  ``README.md`` in this folder is the checklist for adding a tracker.
"""
