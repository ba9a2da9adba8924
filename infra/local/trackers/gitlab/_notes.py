"""The GitLab sandbox's issue-note routes; a note touches its issue's ``updated_at`` at most once a minute."""

from __future__ import annotations

from ..core import (
    Reply,
    SandboxRequest,
    route,
)
from ._base import (
    ISSUE,
    JSON_TYPE,
    NOTE_MAX,
    GitLabBase,
)
from ._query import (
    Params,
    api_message,
    missing,
    validation_error,
)
from ._state import (
    Issue,
    Note,
)


class NoteRoutes(GitLabBase):
    """Notes (comments and system notes) of one issue."""

    def _note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> tuple[Issue, Note]:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        note = self.state.notes.get(note_id)
        if note is None or note.iid != issue.iid:
            raise api_message(404, "404 Note Not Found")
        return issue, note

    @route("GET", ISSUE + "/notes")
    def list_notes(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        params = self._params(request)
        order_by = params.choice("order_by", ("created_at", "updated_at"), "created_at")
        descending = params.choice("sort", ("asc", "desc"), "desc") == "desc"
        activity = params.choice(
            "activity_filter", ("all_notes", "only_comments", "only_activity"), "all_notes"
        )
        state = self.state
        notes = [state.notes[note_id] for note_id in state.notes_by_issue.get(issue.iid, [])]
        if activity == "only_comments":
            notes = [note for note in notes if not note.system]
        elif activity == "only_activity":
            notes = [note for note in notes if note.system]
        notes.sort(key=lambda note: (getattr(note, order_by), note.id), reverse=descending)
        return self._offset_reply(request, params, notes, self.render.note)

    @route("POST", ISSUE + "/notes")
    def create_note(self, request: SandboxRequest, id: str, issue_iid: int) -> Reply:
        issue = self._issue(request, id, issue_iid, missing="404 Issue Not Found")
        actor = self._require_user(request)
        params = self._params(request)
        note = self._add_note(issue, params, actor)
        return Reply(self.render.note(note), 201, content_type=JSON_TYPE)

    def _add_note(self, issue: Issue, params: Params, actor: str) -> Note:
        body = params.string("body")
        if body is None:
            raise missing("body")
        internal = bool(params.boolean("internal", False) or params.boolean("confidential", False))
        if not body.strip():
            raise validation_error("note", "can't be blank")
        if len(body) > NOTE_MAX:
            raise validation_error("note", f"is too long (maximum is {NOTE_MAX} characters)")
        note = self._append_note(issue, body, actor, self._now_ms(), system=False, internal=internal)
        self.touch()
        self._emit_note(note, issue, actor, "create")
        return note

    @route("GET", ISSUE + "/notes/{note_id:int}")
    def get_note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> Reply:
        return Reply(self.render.note(self._note(request, id, issue_iid, note_id)[1]), content_type=JSON_TYPE)

    @route("PUT", ISSUE + "/notes/{note_id:int}")
    def update_note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> Reply:
        issue, note = self._note(request, id, issue_iid, note_id)
        actor = self._require_user(request)
        self._edit_note(issue, note, self._params(request).string("body"), actor)
        return Reply(self.render.note(note), content_type=JSON_TYPE)

    def _edit_note(self, issue: Issue, note: Note, body: str | None, actor: str) -> None:
        if body is None:
            raise missing("body")
        if note.system:
            raise api_message(403, "403 Forbidden")
        if not body.strip():
            raise validation_error("note", "can't be blank")
        if body == note.body:
            return
        now = self._now_ms()
        note.body, note.updated_at, note.updated_by = body, now, actor
        self._touch_for_note(issue, now)
        self.touch()
        self._emit_note(note, issue, actor, "update")

    @route("DELETE", ISSUE + "/notes/{note_id:int}")
    def delete_note(self, request: SandboxRequest, id: str, issue_iid: int, note_id: int) -> Reply:
        issue, note = self._note(request, id, issue_iid, note_id)
        self._require_user(request)
        self._drop_note(issue, note)
        return Reply(None, 204)

    def _drop_note(self, issue: Issue, note: Note) -> None:
        self.state.drop_note(note)
        if not note.system:
            issue.user_notes_count = max(issue.user_notes_count - 1, 0)
        self.touch()
