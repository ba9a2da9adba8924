"""The Azure DevOps sandbox: Work Item Tracking REST 7.1 for one project, ``acme/Widgets``, on loopback.

Checked against Microsoft's Swagger (``shared/specs/azure-devops.workItemTracking-7.1.json`` and
``azure-devops.serviceHooks-7.1.json``, from ``MicrosoftDocs/vsts-rest-api-specs``) and
research/tracker-apis.md section 4. Paths are ``/{organization}/{project}/_apis/...`` as on
``dev.azure.com``; every call needs ``api-version`` (400 otherwise), comments ``7.1-preview.4``.

- Auth: Basic with any user and the PAT as password, or ``Bearer``; anything else is 401 with an empty
  body and ``WWW-Authenticate``.
- ``POST wit/wiql``: references only (``workItems: [{id, url}]``), ``$top``, ``timePrecision``; more than
  20,000 matches without a smaller ``$top`` is 400 ``VS402337``. ``POST wit/workitemsbatch``: at most 200 ids,
  ``fields``, ``errorPolicy`` (``omit``: null for a missing id; else 404).
- Writes are JSON Patch (``application/json-patch+json``, else 415); create is ``POST wit/workitems/${type}``
  and answers 200. Each write adds a revision and moves ``System.ChangedDate``; adding a comment does too.
- Comments: ``{totalCount, count, comments, continuationToken?}`` pages of ``$top`` (default 200), the next
  one asked for with ``continuationToken``.
- Limits: ``X-RateLimit-Resource``, ``-Delay``, ``-Limit``, ``-Remaining``, ``-Reset`` (epoch) on every
  answer; a spent budget is 429 ``TF400733`` with ``Retry-After``.
- Errors: ``{"$id": "1", "innerException": null, "message": "TF...", "typeName", "typeKey", "errorCode": 0,
  "eventId": 3000}``.
- Service hooks: ``POST {org}/_apis/hooks/subscriptions`` (one event type each) deliver the documented
  envelope (``subscriptionId``, ``notificationId``, ``id``, ``eventType``, ``resource``, ``createdDate``...)
  unsigned, with the subscription's Basic credentials; ``workitem.updated`` carries ``workItemId`` and the
  item as ``revision``; ``workitem.commented`` names no comment id. Failed deliveries are retried.
"""

from __future__ import annotations

import base64
import json
import math
import random
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from ..core import (
    ApiError,
    Principal,
    RateBucket,
    Reply,
    SandboxRequest,
    SandboxTracker,
    Sizes,
    WebhookRequest,
    mutation,
    route,
)
from ._state import (
    ORGANIZATION,
    PROJECT,
    PROJECT_ID,
    STATES,
    AdoState,
    Wiql,
    WiqlError,
    WorkItem,
    WorkItemComment,
    iso_ms,
    seed_state,
)

__all__ = ["Azure_DevOpsSandbox"]

_WIT = "/{org}/{project}/_apis/wit"
_TYPE_NAME = (
    "Microsoft.VisualStudio.Services.Common.VssServiceException, Microsoft.VisualStudio.Services.Common"
)


class Azure_DevOpsSandbox(SandboxTracker[AdoState]):
    """Azure DevOps Boards for ``acme/Widgets``; see the module docstring for the behaviour reproduced."""

    kind = "azure_devops"
    # TSTUs are not requests; a generous fixed window stands for the 5-minute sliding one.
    default_rate_limit = 100_000
    rate_limit_window_s = 300
    webhook_retry_delays_s = (0.1, 0.2, 0.4)
    bad_json_message = "VS402371: The request body is not valid JSON."
    listing_route = "POST */wiql"
    issue_ref_key = "id"

    def build_state(self, sizes: Sizes, rng: random.Random) -> AdoState:
        return seed_state(rng, **sizes.seeding())

    def describe_extra(self) -> dict[str, Any]:
        return {"project": f"{ORGANIZATION}/{PROJECT}"}

    # ---- core hooks -------------------------------------------------------------------------------------
    def authenticate(self, request: SandboxRequest) -> Principal:
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        token = value.strip()
        if scheme.lower() == "basic":
            try:
                token = base64.b64decode(token, validate=True).decode().partition(":")[2]
            except ValueError:
                token = ""
        elif scheme.lower() != "bearer":
            token = ""
        if token != self.token:
            raise ApiError(401, "", headers={"WWW-Authenticate": 'Basic realm="https://dev.azure.com/"'})
        return Principal(key="pat", login=self.state.people[0])

    def render_error(self, request: SandboxRequest | None, error: ApiError) -> Reply:
        if error.status == 401:
            return Reply(None, 401, error.headers)
        body = {
            "$id": "1",
            "innerException": None,
            "message": error.message,
            "typeName": _TYPE_NAME,
            "typeKey": "VssServiceException",
            "errorCode": 0,
            "eventId": 3000,
        }
        return Reply(body, error.status, error.headers)

    def rate_limit_headers(self, bucket: RateBucket) -> dict[str, str]:
        return {
            "X-RateLimit-Resource": "ATCPU",
            "X-RateLimit-Delay": "0.000" if bucket.remaining > bucket.limit // 5 else "0.500",
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(max(bucket.remaining, 0)),
            "X-RateLimit-Reset": str(bucket.reset),
        }

    def rate_limited(self, request: SandboxRequest, bucket: RateBucket) -> ApiError:
        return ApiError(
            429,
            "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource "
            "'ATCPU' in namespace 'User'.",
            headers={"Retry-After": str(max(bucket.reset - self.now(), 1))},
        )

    def response_headers(self, request: SandboxRequest, reply: Reply) -> dict[str, str]:
        return {"X-TFS-ProcessId": "sandbox", "ActivityId": str(uuid.uuid4())}

    # ---- helpers ----------------------------------------------------------------------------------------
    def _scope(
        self, request: SandboxRequest, org: str, project: str | None = None, version: str = "7.1"
    ) -> None:
        if request.args.get("api-version") is None:
            raise ApiError(400, "VS800075: The api-version query parameter must be supplied.")
        if not request.args["api-version"].startswith(version.split("-")[0]):
            raise ApiError(
                400, f"VS800075: The requested version is not supported: {request.args['api-version']}"
            )
        if version.endswith("preview.4") and "preview" not in request.args["api-version"]:
            raise ApiError(
                400, "VS800075: The requested REST API version of 7.1 is out of range: use -preview."
            )
        if org.lower() != ORGANIZATION or (project is not None and project not in (PROJECT, PROJECT_ID)):
            raise ApiError(404, f"TF200016: The following project does not exist: {project or org}.")

    def _item(self, number: int) -> WorkItem:
        item = self.state.items.get(number)
        if item is None:
            raise ApiError(
                404, f"TF401232: Work item {number} does not exist, or you do not have permissions."
            )
        return item

    def _render(self, item: WorkItem, fields: list[str] | None = None) -> dict[str, Any]:
        everything: dict[str, Any] = {
            "System.Id": item.id,
            "System.TeamProject": PROJECT,
            "System.WorkItemType": item.kind,
            "System.Title": item.title,
            "System.Description": item.description or None,
            "System.State": item.state,
            "System.AssignedTo": {
                "displayName": item.assignee,
                "uniqueName": item.assignee,
                "id": item.assignee,
            }
            if item.assignee
            else None,
            "System.Tags": "; ".join(item.tags) or None,
            "Microsoft.VSTS.Common.Priority": item.priority,
            "System.CreatedDate": iso_ms(item.created),
            "System.ChangedDate": iso_ms(item.changed),
            "System.CommentCount": len(item.comments),
        }
        chosen = {k: v for k, v in everything.items() if v is not None and (fields is None or k in fields)}
        return {
            "id": item.id,
            "rev": item.rev,
            "fields": chosen,
            "url": f"{self.url}/{ORGANIZATION}/_apis/wit/workItems/{item.id}",
        }

    def _render_comment(self, comment: WorkItemComment) -> dict[str, Any]:
        return {
            "workItemId": comment.work_item,
            "id": comment.id,
            "version": 1,
            "text": comment.text,
            "format": "markdown",
            "createdBy": {"displayName": comment.author, "uniqueName": comment.author, "id": comment.author},
            "createdDate": iso_ms(comment.created),
            "modifiedDate": iso_ms(comment.modified),
            "isDeleted": False,
        }

    def _now_ms(self, after: int = 0) -> int:
        return max(self.now() * 1000, after + 1)

    # ---- routes -----------------------------------------------------------------------------------------
    @route("GET", "/{org}/_apis/connectionData")
    def connection_data(self, request: SandboxRequest, org: str) -> Reply:
        assert request.principal is not None
        user = {"id": "sandbox-user", "providerDisplayName": request.principal.login}
        return Reply({"authenticatedUser": user, "authorizedUser": user, "instanceId": "sandbox"})

    @route("GET", "/{org}/_apis/projects/{project}")
    def get_project(self, request: SandboxRequest, org: str, project: str) -> Reply:
        self._scope(request, org, project)
        return Reply({"id": PROJECT_ID, "name": PROJECT, "state": "wellFormed", "visibility": "private"})

    @route("GET", "/{org}/_apis/projects/{project}/teams")
    def list_teams(self, request: SandboxRequest, org: str, project: str) -> Reply:
        self._scope(request, org, project)
        return Reply({"count": 1, "value": [{"id": "team-1", "name": f"{PROJECT} Team"}]})

    @route("GET", "/{org}/_apis/projects/{project}/teams/{team}/members")
    def list_members(self, request: SandboxRequest, org: str, project: str, team: str) -> Reply:
        self._scope(request, org, project)
        if team != "team-1":
            raise ApiError(404, f"TF400299: team {team} does not exist")
        members = [{"identity": {"id": p, "uniqueName": p, "displayName": p}} for p in self.state.people]
        return Reply({"count": len(members), "value": members})

    @route("POST", _WIT + "/wiql")
    def wiql(self, request: SandboxRequest, org: str, project: str) -> Reply:
        self._scope(request, org, project)
        body = self.read_json(request)
        top = request.args.get("$top", type=int)
        try:
            query = Wiql(
                str(body.get("query") or ""), time_precision=request.args.get("timePrecision") == "true"
            )
        except WiqlError as exc:
            raise ApiError(400, str(exc)) from None
        found = query.run(list(self.state.items.values()))
        if top is None and len(found) > 20_000:
            raise ApiError(
                400, "VS402337: The number of work items returned exceeds the size limit of 20000."
            )
        found = found[: min(top or 20_000, 20_000)]
        refs = [{"id": i.id, "url": f"{self.url}/{ORGANIZATION}/_apis/wit/workItems/{i.id}"} for i in found]
        return Reply(
            {
                "queryType": "flat",
                "queryResultType": "workItem",
                "asOf": iso_ms(self._now_ms()),
                "workItems": refs,
            }
        )

    @route("POST", _WIT + "/workitemsbatch")
    def batch(self, request: SandboxRequest, org: str, project: str) -> Reply:
        self._scope(request, org, project)
        body = self.read_json(request)
        ids, fields = body.get("ids"), body.get("fields")
        if not isinstance(ids, list) or not ids or len(ids) > 200 or not all(isinstance(i, int) for i in ids):
            raise ApiError(400, "VS402358: ids must name 1 to 200 work items.")
        omit = str(body.get("errorPolicy") or "").lower() == "omit"
        value: list[Any] = []
        for number in ids:
            item = self.state.items.get(number)
            if item is None and not omit:
                self._item(number)
            value.append(self._render(item, fields) if item is not None else None)
        return Reply({"count": len(value), "value": value})

    @route("GET", _WIT + "/workitems/{number:int}")
    def get_item(self, request: SandboxRequest, org: str, project: str, number: int) -> Reply:
        self._scope(request, org, project)
        fields = request.args.get("fields")
        return Reply(self._render(self._item(number), fields.split(",") if fields else None))

    def _operations(self, request: SandboxRequest) -> list[dict[str, Any]]:
        if (request.mimetype or "") != "application/json-patch+json":
            raise ApiError(415, "VS402364: The request's content type must be application/json-patch+json.")
        operations = self.read_json(request)
        if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
            raise ApiError(400, "VS402363: The request body must be a JSON Patch document.")
        return operations

    def _apply(self, item: WorkItem, operations: list[dict[str, Any]]) -> None:
        states = dict(STATES.get(item.kind, STATES["Issue"]))
        for op in operations:
            path, value = str(op.get("path") or ""), op.get("value")
            if op.get("op") not in ("add", "replace") or not path.startswith(
                ("/fields/", "/multilineFieldsFormat/")
            ):
                raise ApiError(400, f"VS402365: unsupported patch operation on {path}")
            name = path.removeprefix("/fields/")
            if path.startswith("/multilineFieldsFormat/"):
                continue
            if name == "System.Title":
                if not str(value or "").strip():
                    raise ApiError(400, "TF401320: Rule Error for field Title. Error code: Required.")
                item.title = str(value)
            elif name == "System.Description":
                item.description = str(value or "")
            elif name == "System.State":
                if value not in states:
                    raise ApiError(
                        400,
                        f"TF401320: Rule Error for field State. '{value}' is not in the list of supported "
                        "values.",
                    )
                item.state = str(value)
            elif name == "System.Tags":
                item.tags = [t.strip() for t in str(value or "").split(";") if t.strip()]
            elif name == "System.AssignedTo":
                item.assignee = str(value) or None
            elif name == "Microsoft.VSTS.Common.Priority":
                if not str(value).isdigit():
                    raise ApiError(400, "TF401320: Rule Error for field Priority. Error code: InvalidType.")
                item.priority = int(str(value))
            else:
                raise ApiError(400, f"TF51535: Cannot find field {name}.")
        item.rev += 1
        item.changed = self._now_ms(item.changed)

    @route("POST", _WIT + "/workitems/${kind}")
    def create_item(self, request: SandboxRequest, org: str, project: str, kind: str) -> Reply:
        self._scope(request, org, project)
        if kind not in STATES:
            raise ApiError(404, f"VS402323: Work item type {kind} does not exist.")
        now = self._now_ms()
        item = WorkItem(self.state.next_item, kind, "", "", "New", None, [], 2, now, now, rev=0)
        self._apply(item, self._operations(request))
        item.changed = max(item.changed, now)
        self.state.items[item.id] = item
        self.state.next_item += 1
        self.touch()
        self.emit("workitem.created", item)
        return Reply(self._render(item))

    @route("PATCH", _WIT + "/workitems/{number:int}")
    def update_item(self, request: SandboxRequest, org: str, project: str, number: int) -> Reply:
        self._scope(request, org, project)
        item = self._item(number)
        self._apply(item, self._operations(request))
        self.touch()
        self.emit("workitem.updated", item)
        return Reply(self._render(item))

    @route("GET", _WIT + "/workitemtypes")
    def list_types(self, request: SandboxRequest, org: str, project: str) -> Reply:
        self._scope(request, org, project)
        value = [{"name": kind, "states": self._states(kind)} for kind in STATES]
        return Reply({"count": len(value), "value": value})

    @route("GET", _WIT + "/workitemtypes/{kind}/states")
    def list_states(self, request: SandboxRequest, org: str, project: str, kind: str) -> Reply:
        self._scope(request, org, project)
        if kind not in STATES:
            raise ApiError(404, f"VS402323: Work item type {kind} does not exist.")
        return Reply({"count": len(STATES[kind]), "value": self._states(kind)})

    @staticmethod
    def _states(kind: str) -> list[dict[str, str]]:
        return [{"name": name, "color": "b2b2b2", "category": category} for name, category in STATES[kind]]

    @route("GET", _WIT + "/workItems/{number:int}/comments")
    def list_comments(self, request: SandboxRequest, org: str, project: str, number: int) -> Reply:
        self._scope(request, org, project, version="7.1-preview.4")
        item = self._item(number)
        top = max(1, min(request.args.get("$top", 200, type=int), 200))
        token = request.args.get("continuationToken")
        start = int(token) if token and token.isdigit() else 0
        chosen = item.comments[start : start + top]
        body: dict[str, Any] = {
            "totalCount": len(item.comments),
            "count": len(chosen),
            "comments": [self._render_comment(self.state.comments[c]) for c in chosen],
        }
        if start + top < len(item.comments):
            body["continuationToken"] = str(start + top)
        return Reply(body)

    @route("GET", _WIT + "/workItems/{number:int}/comments/{comment_id:int}")
    def get_comment(
        self, request: SandboxRequest, org: str, project: str, number: int, comment_id: int
    ) -> Reply:
        self._scope(request, org, project, version="7.1-preview.4")
        comment = self.state.comments.get(comment_id)
        if comment is None or comment.work_item != self._item(number).id:
            raise ApiError(404, f"TF401234: Comment {comment_id} does not exist.")
        return Reply(self._render_comment(comment))

    @route("POST", _WIT + "/workItems/{number:int}/comments")
    def add_comment(self, request: SandboxRequest, org: str, project: str, number: int) -> Reply:
        self._scope(request, org, project, version="7.1-preview.4")
        item = self._item(number)
        text = (self.read_json(request) or {}).get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "VS403688: The comment text cannot be empty.")
        comment = self._comment(item, text, request.principal.login if request.principal else "someone")
        return Reply(self._render_comment(comment))

    def _comment(self, item: WorkItem, text: str, author: str) -> WorkItemComment:
        now = self._now_ms(item.changed)
        comment = WorkItemComment(self.state.next_comment, item.id, text, author, now, now)
        self.state.next_comment += 1
        self.state.comments[comment.id] = comment
        item.comments.append(comment.id)
        item.changed, item.rev = now, item.rev + 1
        self.touch()
        self.emit("workitem.commented", item)
        return comment

    @route("POST", "/{org}/_apis/hooks/subscriptions")
    def subscribe(self, request: SandboxRequest, org: str) -> Reply:
        self._scope(request, org)
        body = self.read_json(request)
        inputs = body.get("consumerInputs") or {}
        if body.get("consumerId") != "webHooks" or not str(inputs.get("url") or "").startswith("http"):
            raise ApiError(400, "VS400000: consumerInputs.url is required for the webHooks consumer.")
        hook_id = str(uuid.uuid4())
        self.state.hooks[hook_id] = {"id": hook_id, **body, "status": "enabled"}
        shown = {**self.state.hooks[hook_id], "consumerInputs": {**inputs, "basicAuthPassword": "********"}}
        return Reply(shown)

    @route("DELETE", "/{org}/_apis/hooks/subscriptions/{hook_id}")
    def unsubscribe(self, request: SandboxRequest, org: str, hook_id: str) -> Reply:
        self._scope(request, org)
        if self.state.hooks.pop(hook_id, None) is None:
            raise ApiError(404, f"VS402384: Subscription {hook_id} does not exist.")
        return Reply(None, 204)

    # ---- webhooks ---------------------------------------------------------------------------------------
    def build_webhook_requests(self, event: str, payload: Any) -> list[WebhookRequest]:
        item: WorkItem = payload
        rendered = self._render(item)
        requests = []
        for hook in self.state.hooks.values():
            if hook.get("eventType") != event:
                continue
            hook["notifications"] = hook.get("notifications", 0) + 1
            resource: dict[str, Any] = rendered
            if event == "workitem.updated":
                resource = {"id": item.rev, "workItemId": item.id, "rev": item.rev, "revision": rendered}
            envelope = {
                "subscriptionId": hook["id"],
                "notificationId": hook["notifications"],
                "id": str(uuid.uuid4()),
                "eventType": event,
                "publisherId": "tfs",
                "resource": resource,
                "resourceVersion": "1.0",
                "resourceContainers": {"project": {"id": PROJECT_ID}},
                "createdDate": iso_ms(self._now_ms()),
            }
            inputs = hook.get("consumerInputs") or {}
            auth = httpx.BasicAuth(
                str(inputs.get("basicAuthUsername") or ""), str(inputs.get("basicAuthPassword") or "")
            )
            headers = {"Content-Type": "application/json; charset=utf-8", "Authorization": auth._auth_header}
            body = json.dumps(envelope, separators=(",", ":")).encode()
            delivery = f"{hook['id']}:{hook['notifications']}"
            requests.append(WebhookRequest(str(inputs["url"]), headers, body, event, delivery, hook["id"]))
        return requests

    # ---- what callers need ------------------------------------------------------------------------------
    close_fields: ClassVar[Mapping[str, Any]] = {"state": "Closed"}

    def issue_counts(self) -> tuple[int, int, int]:
        return len(self.state.items), len(self.state.items), len(self.state.comments)

    def full_sync_floor(self, listed: int, comments: int, truncated: int = 0) -> int:
        # One WIQL, a batch of 200 per page, and one comment page per work item that has comments.
        with_comments = sum(1 for item in self.state.items.values() if item.comments)
        return 1 + math.ceil(listed / 200) + with_comments

    def read_with_client_library(self) -> None:
        # The azure-devops package (msrest, 7.1.0b4 of 2023) is not a dependency: its calls, one per item.
        auth = httpx.BasicAuth("", self.token)
        root = f"{self.url}/{ORGANIZATION}/{PROJECT}/_apis/wit"
        with httpx.Client(auth=auth, timeout=60.0, trust_env=False) as client:
            query = {"query": "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project"}
            refs = client.post(f"{root}/wiql", params={"api-version": "7.1"}, json=query).json()["workItems"]
            for ref in refs:
                client.get(f"{root}/workitems/{ref['id']}", params={"api-version": "7.1"})
                client.get(f"{root}/workItems/{ref['id']}/comments", params={"api-version": "7.1-preview.4"})

    # ---- /_sandbox/mutate -------------------------------------------------------------------------------
    @mutation("create")
    def mutate_create(self, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        now = self._now_ms()
        item = WorkItem(self.state.next_item, "Issue", "", "", "New", None, [], 2, now, now)
        self._mutate_fields(item, fields or {})
        self.state.items[item.id] = item
        self.state.next_item += 1
        self.touch()
        self.emit("workitem.created", item)
        return {"id": item.id}

    def _mutate_fields(self, item: WorkItem, fields: dict[str, Any]) -> None:
        names = {"title": "System.Title", "description": "System.Description", "state": "System.State"}
        self._apply(
            item, [{"op": "add", "path": f"/fields/{names.get(k, k)}", "value": v} for k, v in fields.items()]
        )

    def _mutation_item(self, id: Any) -> WorkItem:
        item = self.state.items.get(int(id))
        if item is None:
            raise KeyError(f"work item {id}")
        return item

    @mutation("update")
    def mutate_update(self, id: Any, fields: dict[str, Any] | None = None) -> dict[str, Any]:
        item = self._mutation_item(id)
        self._mutate_fields(item, fields or {})
        self.touch()
        self.emit("workitem.updated", item)
        return {"id": item.id}

    @mutation("comment")
    def mutate_comment(self, id: Any, body: str) -> dict[str, Any]:
        comment = self._comment(self._mutation_item(id), body, self.state.people[0])
        return {"id": comment.work_item, "comment_id": comment.id}

    @mutation("delete_comment")
    def mutate_delete_comment(self, comment_id: Any) -> dict[str, Any]:
        comment = self.state.comments.pop(int(comment_id), None)
        if comment is None:
            raise KeyError(f"comment {comment_id}")
        item = self.state.items.get(comment.work_item)
        if item is not None:
            item.comments.remove(comment.id)
            item.changed, item.rev = self._now_ms(item.changed), item.rev + 1
        self.touch()
        return {"comment_id": comment.id}

    @mutation("delete")
    def mutate_delete(self, id: Any) -> dict[str, Any]:
        item = self._mutation_item(id)
        for comment_id in item.comments:
            self.state.comments.pop(comment_id, None)
        del self.state.items[item.id]
        self.touch()
        self.emit("workitem.deleted", item)
        return {"id": item.id}
