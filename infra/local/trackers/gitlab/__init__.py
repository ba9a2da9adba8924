"""The GitLab sandbox: GitLab's REST v4 API for ``acme/widgets``, one package.

- ``sandbox.py``: :class:`GitLabSandbox` (core hooks: auth, errors, Rack::Attack limits, webhooks; the
  ``/_sandbox/mutate`` actions; what tests and benchmarks need); its docstring lists the behaviour.
- Route modules, mixins over ``_base.GitLabBase``: ``_instance`` (version, user, project, labels, members,
  uploads), ``_issues`` (offset and keyset lists, issue writes, state events), ``_notes`` and ``_hooks``
  (project hooks and their event log).
- Data: ``_state`` (seeded records), ``_render`` (GitLab's JSON per response), ``_query`` (Grape-style
  parameters and issue filters).
"""

from .sandbox import GitLabSandbox

__all__ = ["GitLabSandbox"]
