"""CLI subcommands that talk to trackbridge storage or its REST API."""
