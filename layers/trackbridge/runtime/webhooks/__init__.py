"""Webhook-driven sync: the webhook Lambda's ingestion (verify, dedupe, enqueue) and the apply Lambda's
consumer of the inbound FIFO queue, with :mod:`.messages` the one shape both agree on."""
