"""The ``object`` a template sees: the event's subject and the issues the link registry already ties to it.

A template can then say "related: PROJ-12 (In Progress)" with ``{% for l in object.links %}``. The links come
from ``LinkService.object_view`` (the registry plus the synced copy of each issue: key, title, status,
category, url), never from a tracker call, so building the context costs one query and one batch read, and
only when an issue is about to be rendered. The order is fixed (oldest link first, then issue ref), so one
event renders one body. Redaction needs nothing here: the rendered title and body are redacted as a whole.
"""

from __future__ import annotations

from typing import Any, Protocol

from trackbridge.domain.automation import Event
from trackbridge.domain.errors import TrackbridgeError
from trackbridge.runtime.observability import logger

# Links shown to a template: the first page of the object's links (an object rarely has more).
MAX_LINKS = 50


class ObjectLinks(Protocol):
    """``runtime.links.LinkService.object_view``."""

    def object_view(self, tenant: str, obj: Any, *, limit: int = ...) -> Any: ...


def object_context(links: ObjectLinks | None, tenant: str, event: Event) -> dict[str, Any]:
    """``{kind, database, schema, name, key, links: [{issue_ref, key, title, status, status_category,
    url, type}]}`` for an event with a subject; ``{"links": []}`` without one. An outage of the registry
    leaves ``links`` empty (logged): the issue is still worth opening."""
    if event.subject is None:
        return {"links": []}
    found: list[dict[str, Any]] = []
    if links is not None:
        try:
            view = links.object_view(tenant, event.subject, limit=MAX_LINKS)
            entries = sorted(view.items, key=lambda e: (e.created_at, e.issue_ref))
            found = [
                {
                    "issue_ref": e.issue_ref,
                    "key": e.key or e.issue_ref,
                    "title": e.title,
                    "status": e.status,
                    "status_category": e.status_category,
                    "url": e.url,
                    "type": e.type,
                }
                for e in entries
            ]
        except TrackbridgeError as exc:
            logger.warning("auto_issue.object_links_failed", extra={"tenant": tenant, "code": exc.code})
    subject = event.subject.model_dump(mode="json", by_alias=True)
    return {**subject, "key": event.subject.key, "links": found}


__all__ = ["MAX_LINKS", "ObjectLinks", "object_context"]
