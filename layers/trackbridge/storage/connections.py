"""Connections: ``T#{tenant}`` / ``CONN#{id}``. Credentials are never here (Secrets Manager holds them)."""

from __future__ import annotations

from typing import ClassVar

from trackbridge.domain.connections import Connection, Schedule, Scope
from trackbridge.domain.times import from_iso, to_iso
from trackbridge.domain.tracked_users import TrackedBackfill
from trackbridge.storage.documents import VersionedDocuments
from trackbridge.storage.keys import CONNECTION_PREFIX
from trackbridge.storage.table import Item


class ConnectionRepository(VersionedDocuments[Connection]):
    sk_prefix: ClassVar[str] = CONNECTION_PREFIX
    kind: ClassVar[str] = "connection"

    def document_id(self, model: Connection) -> str:
        return model.id

    def attributes(self, model: Connection) -> Item:
        return {
            "id": model.id,
            "name": model.name,
            "provider": model.provider,
            "base_url": model.base_url,
            "scope": model.scope.model_dump(),
            "schedule": model.schedule.model_dump() if model.schedule else None,
            "entities": list(model.entities),
            "include_closed": model.include_closed,
            "has_credentials": model.has_credentials,
            "has_webhook_secret": model.has_webhook_secret,
            "auth": model.auth,
            "site_url": model.site_url,
            "tracked_users": list(model.tracked_users),
            "tracked_backfill": model.tracked_backfill.model_dump() if model.tracked_backfill else None,
            "created_at": to_iso(model.created_at),
            "updated_at": to_iso(model.updated_at),
            "version": model.version,
        }

    def model(self, item: Item) -> Connection:
        schedule = item.get("schedule")
        backfill = item.get("tracked_backfill")
        return Connection(
            id=item["id"],
            name=item["name"],
            provider=item["provider"],
            base_url=item["base_url"],
            scope=Scope(**item["scope"]),
            schedule=Schedule(**schedule) if schedule else None,
            entities=item["entities"],
            include_closed=item["include_closed"],
            has_credentials=item["has_credentials"],
            has_webhook_secret=item.get("has_webhook_secret", False),
            # Items written before OAuth existed hold stored tokens.
            auth=item.get("auth", "token"),
            site_url=item.get("site_url"),
            # Items written before tracked users existed track nobody in particular.
            tracked_users=item.get("tracked_users") or [],
            tracked_backfill=TrackedBackfill(**backfill) if backfill else None,
            created_at=from_iso(item["created_at"]),
            updated_at=from_iso(item["updated_at"]),
            version=item["version"],
        )


__all__ = ["ConnectionRepository"]
