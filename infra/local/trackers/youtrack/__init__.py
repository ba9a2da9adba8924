"""The YouTrack sandbox: YouTrack's REST API (``/api``) for one project, one package.

- ``sandbox.py``: :class:`YouTrackSandbox` (what tests, benchmarks and the demo need); its docstring lists
  the behaviour reproduced and its sources.
- ``_base.py``: auth, errors, the rate limit, the trackbridge app's webhook deliveries, state writes and the
  ``/_sandbox/mutate`` actions; ``_routes.py``: the REST resources.
- Data: ``_state`` (seeded records), ``_render`` (YouTrack's JSON), ``_query`` (``fields=``, search queries
  and commands).
"""

from .sandbox import YouTrackSandbox

__all__ = ["YouTrackSandbox"]
