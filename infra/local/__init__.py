"""The embedded local stack: moto, a local API Gateway, queue pollers, a scheduler, sandbox trackers."""
