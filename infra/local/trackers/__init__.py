"""Sandbox trackers: faithful fake Jira Cloud, GitHub and GitLab servers on loopback."""
