"""The Jira sandbox: Jira Cloud REST v3 and Jira Software agile 1.0 for one site, one package.

- ``sandbox.py``: :class:`JiraSandbox` (core hooks: Basic and 3LO auth, errors, rate limits, webhooks; the
  ``/_sandbox/mutate`` actions; what tests and benchmarks need); its docstring lists the behaviour.
- Route modules, mixins over ``_base.JiraBase``: ``_search`` (``search/jql``), ``_issues`` (issues,
  transitions, comments, worklogs, properties, changelogs) and ``_site`` (users, projects, catalogues, agile,
  webhook registration); ``_oauth`` is the OAuth 2.0 authorization server and API gateway on its own port.
- Data: ``_state`` (seeded records), ``_render`` (Jira's JSON per response), ``_jql`` (the JQL compiler),
  ``_webhooks`` (signed deliveries).
"""

from .sandbox import JiraSandbox

__all__ = ["JiraSandbox"]
