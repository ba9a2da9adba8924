"""trackbridge.domain: models and decisions, stdlib + pydantic + jinja2 only.

Modules: ``trackers`` (each tracker declared once), ``ids`` (identifiers), ``times`` (UTC timestamps),
``connections`` and ``credentials``, ``issues``, ``links``, ``sync``, ``automation`` (events, rules,
templates), ``audit``, ``api_keys``, ``pagination``, ``errors`` (the one error tree), ``error_codes`` (every
error code with its status, retryability and guidance), ``schedules`` (Scheduler expressions).
Import from the modules; this package re-exports nothing so importing one model stays cheap.
"""
