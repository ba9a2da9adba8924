"""trackbridge.domain: models and decisions, stdlib + pydantic + jinja2 only.

Modules: ``ids`` (identifiers), ``times`` (UTC timestamps), ``connections``, ``issues``, ``links``,
``sync``, ``automation`` (events, rules, templates), ``audit``, ``api_keys``, ``pagination``, ``errors``
(the error tree), ``schedules`` (Scheduler expressions), ``error_codes`` (tracker failure codes).
Import from the modules; this package re-exports nothing so importing one model stays cheap.
"""
