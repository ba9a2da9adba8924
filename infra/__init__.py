"""Infrastructure: the CDK app (``infra.app``), its constructs, and the embedded local stack.

The local stack lives in ``infra.local``.
"""
