"""The REST API (``/v1``): one module per area (``health``, ``connections``, ``audit``), the error mapping
(``errors``), the caller (``context``) and the resolver that ties them together (``app``).

Import :func:`trackbridge.runtime.api.app.resolve` from ``functions/api.py``; this package re-exports nothing
so that importing one area module does not build the whole resolver.
"""
