"""The GitHub sandbox's issue-comment routes (per issue and repository-wide, ``since`` by ``updated_at``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core import (
    ApiError,
    ListWindow,
    Reply,
    SandboxRequest,
    route,
)
from ._base import (
    ISSUE,
    REPO,
    GitHubBase,
    filter_comments,
    invalid,
    second,
)
from ._state import (
    Comment,
    Issue,
)


class CommentRoutes(GitHubBase):
    """Issue comments; a new comment bumps its issue's ``updated_at``."""

    @route("GET", REPO + "/issues/comments")
    def list_repo_comments(self, request: SandboxRequest, owner: str, repo: str) -> Reply:
        state = self._repo(request, owner, repo)
        sort = self._choice(request, "sort", ("created", "updated"), "created", "IssueComment")
        direction = self._choice(request, "direction", ("asc", "desc"), "asc", "IssueComment")
        since = self._since(request, "IssueComment")
        descending = direction == "desc"
        keys: Sequence[int]
        if sort == "updated":
            start = state.comments_by_updated.index_at_or_after((since, 0)) if since is not None else 0
            keys = ListWindow(state.comments_by_updated.keys(), start, reverse=descending, project=second)
        elif since is None:
            keys = ListWindow(state.comment_ids, reverse=descending)
        else:
            keys = self.view(
                ("comments", since, descending),
                lambda: filter_comments(state, state.comment_ids, since, descending),
            )
        comments, render = state.comments, self.render.comment
        return self._page_reply(request, keys, lambda cid: render(comments[cid]), "IssueComment")

    @route("GET", ISSUE + "/comments")
    def list_issue_comments(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        state = self._repo(request, owner, repo)
        self._issue(request, owner, repo, issue_number)
        since = self._since(request, "IssueComment")
        ids = state.comments_by_issue.get(issue_number, [])
        keys = ids if since is None else filter_comments(state, ids, since, False)
        comments, render = state.comments, self.render.comment
        return self._page_reply(request, keys, lambda cid: render(comments[cid]), "IssueComment")

    @route("POST", ISSUE + "/comments")
    def create_comment(self, request: SandboxRequest, owner: str, repo: str, issue_number: int) -> Reply:
        issue = self._issue(request, owner, repo, issue_number)
        self._require_writer(request)
        body = self._json_object(request)
        comment = self._add_comment(issue, body.get("body"), self._actor(request))
        return Reply(self.render.comment(comment), 201, {"Location": self.render.comment(comment)["url"]})

    def _add_comment(self, issue: Issue, text: Any, actor: str) -> Comment:
        if not isinstance(text, str) or not text.strip():
            raise invalid("IssueComment", "body", code="missing_field")
        state = self.state
        now = self.now()
        comment = Comment(state.next_comment_id, issue.number, actor, text, now, now)
        state.next_comment_id += 1
        state.add_comment(comment)
        issue.comments += 1
        state.set_updated(issue, now)
        self.touch()
        self._emit_comment("created", issue, comment, actor)
        return comment

    def _comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Comment:
        comment = self._repo(request, owner, repo).comments.get(comment_id)
        if comment is None:
            raise ApiError(404, "Not Found")
        return comment

    @route("GET", REPO + "/issues/comments/{comment_id:int}")
    def get_comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Reply:
        return Reply(self.render.comment(self._comment(request, owner, repo, comment_id)))

    @route("PATCH", REPO + "/issues/comments/{comment_id:int}")
    def update_comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Reply:
        comment = self._comment(request, owner, repo, comment_id)
        self._require_writer(request)
        self._edit_comment(comment, self._json_object(request).get("body"), self._actor(request))
        return Reply(self.render.comment(comment))

    def _edit_comment(self, comment: Comment, text: Any, actor: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise invalid("IssueComment", "body", code="missing_field")
        if text == comment.body:
            return
        previous = comment.body
        comment.body = text
        self.state.set_comment_updated(comment, self.now())
        self.touch()
        issue = self.state.issue(comment.issue_number)
        if issue is not None:
            self._emit_comment("edited", issue, comment, actor, changes={"body": {"from": previous}})

    @route("DELETE", REPO + "/issues/comments/{comment_id:int}")
    def delete_comment(self, request: SandboxRequest, owner: str, repo: str, comment_id: int) -> Reply:
        comment = self._comment(request, owner, repo, comment_id)
        self._require_writer(request)
        self._delete_comment(comment, self._actor(request))
        return Reply(None, 204)

    def _delete_comment(self, comment: Comment, actor: str) -> None:
        state = self.state
        issue = state.issue(comment.issue_number)
        state.drop_comment(comment)
        self.touch()
        if issue is not None:
            issue.comments = max(issue.comments - 1, 0)
            self._emit_comment("deleted", issue, comment, actor)
