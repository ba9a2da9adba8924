"""Auto-issue: events in (:mod:`.events`, :mod:`.intake`), rules and templates (:mod:`.rules`,
:mod:`.builtins`, rendered by :mod:`.render`), the fingerprint claim (:mod:`.fingerprints`) and the
consumer's use case (:mod:`.service`, driven by :mod:`.consumer`). Modules are imported where used: the
API's cold start loads only what its routes need.
"""

__all__: list[str] = []
