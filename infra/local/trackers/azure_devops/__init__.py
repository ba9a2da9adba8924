"""The Azure DevOps sandbox: Work Item Tracking REST 7.1 and service hooks for one project, one package.

- ``sandbox.py``: the sandbox class (auth, errors, rate limits, routes, service hooks, ``/_sandbox/mutate``
  actions and what tests and benchmarks need); its docstring lists the behaviour reproduced.
- ``_state.py``: seeded records and the WIQL subset the service answers.
"""

from .sandbox import Azure_DevOpsSandbox

__all__ = ["Azure_DevOpsSandbox"]
