"""Infrastructure: the CDK app (``infra.app``), its constructs, and the embedded local stack (``infra.local``)."""
