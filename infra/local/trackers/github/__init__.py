"""The GitHub sandbox: GitHub's REST API for ``acme/widgets``, one package.

- ``sandbox.py``: :class:`GitHubSandbox` (core hooks: auth, errors, rate limits, webhooks; the
  ``/_sandbox/mutate`` actions; what tests and benchmarks need); its docstring lists the behaviour.
- Route modules, mixins over ``_base.GitHubBase``: ``_repository`` (``/rate_limit``, users, repository,
  commits, releases, advisories, pull requests), ``_issues`` (issues, labels, assignees), ``_comments``,
  ``_search`` (``/search/issues``) and ``_hooks`` (repository webhooks).
- Data: ``_state`` (seeded records), ``_render`` (GitHub's JSON per response), ``_query`` (the search query
  language).
"""

from .sandbox import GitHubSandbox

__all__ = ["GitHubSandbox"]
