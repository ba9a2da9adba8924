"""The GitLab sandbox's instance and project routes: version, user, project, labels, members, uploads."""

from __future__ import annotations

import uuid

from ..core import (
    Reply,
    SandboxRequest,
    route,
)
from ._base import (
    API,
    JSON_TYPE,
    PROJECT,
    GitLabBase,
)
from ._query import (
    missing,
    validation_error,
)
from ._state import (
    OUTSIDER_USERNAME,
)


class InstanceRoutes(GitLabBase):
    """``/version``, ``/user``, the project and what hangs off it besides issues."""

    @route("GET", API + "/version")
    def get_version(self, request: SandboxRequest) -> Reply:
        self._require_user(request)
        return Reply(self.render.version(), content_type=JSON_TYPE)

    @route("GET", API + "/user")
    def get_current_user(self, request: SandboxRequest) -> Reply:
        return Reply(self.render.current_user(self._require_user(request)), content_type=JSON_TYPE)

    @route("GET", PROJECT)
    def get_project(self, request: SandboxRequest, id: str) -> Reply:
        self._project(request, id)
        return Reply(self.render.project(), content_type=JSON_TYPE)

    @route("GET", PROJECT + "/labels")
    def list_labels(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        params = self._params(request)
        render = self.render.label_with_counts if params.boolean("with_counts", False) else self.render.label
        return self._offset_reply(request, params, list(state.labels.values()), render)

    @route("GET", PROJECT + "/members/all")
    def list_members(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        people = [user for user in state.users.values() if user.username != OUTSIDER_USERNAME]
        return self._offset_reply(request, self._params(request), people, self.render.member)

    @route("GET", API + "/users")
    def list_users(self, request: SandboxRequest) -> Reply:
        """The instance's users, or the one ``username`` names (case-insensitive, ``[]`` when none): how a
        client turns a username into the id ``assignee_ids`` takes. Members or not: the outsider is listed."""
        self._require_user(request)
        params = self._params(request)
        wanted = (request.args.get("username") or "").lower()
        users = [u.username for u in self.state.users.values() if not wanted or u.username.lower() == wanted]
        return self._offset_reply(request, params, users, self.render.user)

    @route("POST", PROJECT + "/uploads")
    def upload_file(self, request: SandboxRequest, id: str) -> Reply:
        state = self._project(request, id)
        self._require_user(request)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise missing("file")
        size = len(upload.read())
        if size == 0:
            raise validation_error("file", "can't be blank")
        secret = uuid.uuid4().hex
        state.uploads.append((secret, upload.filename, size))
        self.touch()
        return Reply(
            self.render.upload(len(state.uploads), secret, upload.filename), 201, content_type=JSON_TYPE
        )
