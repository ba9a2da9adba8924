"""One line of a per-entity request-floor benchmark (``activity_requests``, ``catalog_requests``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FloorRow:
    """A run of one entity at one tracker: its requests against the floor, and what it wrote (an idle run
    must write nothing)."""

    entity: str
    provider: str
    run: str
    requests: int
    floor: int
    written: int

    @property
    def ok(self) -> bool:
        return self.requests <= self.floor and (self.run != "idle" or self.written == 0)

    def line(self) -> str:
        verdict = "ok" if self.ok else "OVER FLOOR" if self.requests > self.floor else "WROTE ON IDLE"
        return (
            f"{self.entity:<8} {self.provider:<7} {self.run:<8} requests {self.requests:>3} / floor "
            f"{self.floor:<3} written {self.written:>4}  {verdict}"
        )
