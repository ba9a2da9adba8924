"""The Redmine sandbox: Redmine's REST API (JSON) for ``acme-widgets``, one package.

- ``sandbox.py``: :class:`RedmineSandbox` (core hooks: API-key auth, Rails' error answers, the proxy's 429,
  the redmine_webhook plugin's deliveries; the ``/_sandbox/mutate`` actions; what tests and benchmarks need).
- ``_api.py``: the REST routes and the issue writes they share with the mutations.
- Data: ``_state`` (seeded records and indexes), ``_render`` (Redmine's and the plugin's JSON per response).
"""

from .sandbox import RedmineSandbox

__all__ = ["RedmineSandbox"]
