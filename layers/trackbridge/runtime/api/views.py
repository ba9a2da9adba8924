"""Response shapes documented for routes whose handlers answer plain dicts (declared in their ``responses``).

``POST /v1/connections/{id}/test`` answers ``ConnectionReport.to_dict()`` and ``GET /v1/providers`` each
adapter's ``describe()``; these models say what those dicts hold, so clients and schemathesis can check it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConnectionCheckView(BaseModel):
    name: str = Field(description="what was checked: auth, scope, reachability, webhooks, ...")
    ok: bool
    message: str
    guidance: str | None = Field(None, description="what to do when the check failed")
    code: str | None = Field(None, description="a canonical error code when the check failed")


class ConnectionTestReport(BaseModel):
    """The result of a connection test: ``ok`` is false when any check failed."""

    provider: str
    ok: bool
    identity: str | None = Field(None, description="who the credentials authenticate as")
    checks: list[ConnectionCheckView]


class ProviderView(BaseModel):
    name: str = Field(description="the provider value of a connection")
    display_name: str
    capabilities: dict[str, bool] = Field(description="what the tracker supports, by capability name")
    scope_keys: list[str] = Field(description="the keys a connection's scope may hold")
    credential_keys: list[str] = Field(description="the keys of its token credentials")
    default_base_url: str | None = Field(description="null when each tenant has its own site (Jira)")
    page_size: int
    incremental_overlap_s: float = Field(description="how far an incremental sync looks back")
    webhook_signatures: list[str] = Field(description="the webhook signature schemes it verifies")
    incremental_overlap_reason: str = Field(description="why an incremental sync looks back that far")
    auth_modes: list[str] = Field(description="how a connection authenticates: token, basic or oauth")
    entities: list[str] = Field(description="what a connection to this tracker can sync")


class ProviderList(BaseModel):
    items: list[ProviderView]
    next_cursor: str | None = None


__all__ = ["ConnectionCheckView", "ConnectionTestReport", "ProviderList", "ProviderView"]
