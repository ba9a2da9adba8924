"""The REST API (``/v1``): one module per area (``health``, ``connections``, ``audit``), the error mapping
(``errors``), the caller (``context``), the operations' scopes and bodies as checked before parsing
(``operations``), sealed pagination cursors (``cursors``), the OpenAPI document's error table and examples
(``openapi``, ``examples``, ``views``) and the resolver that ties them together (``app``).

Import :func:`trackbridge.runtime.api.app.resolve` from ``functions/api.py``; this package re-exports nothing
so that importing one area module does not build the whole resolver.
"""
