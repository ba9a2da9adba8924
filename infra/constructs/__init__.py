"""One CDK construct per concern."""
