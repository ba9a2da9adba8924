"""The Linear sandbox: Linear's GraphQL API for team ``ENG``, one package.

- ``sandbox.py``: :class:`LinearSandbox` (core hooks: auth, errors, the two rate-limit buckets, webhooks;
  the ``POST /graphql`` endpoint; the ``/_sandbox/mutate`` actions; what tests and benchmarks need); its
  docstring lists the behaviour.
- ``_schema`` (the served subset of Linear's SDL), ``_graph`` (resolvers: filters, keyset Relay pages,
  rendering, mutations), ``_cost`` (query complexity), ``_state`` (seeded records).
"""

from .sandbox import LinearSandbox

__all__ = ["LinearSandbox"]
