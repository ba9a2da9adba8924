"""The GitHub sandbox's people changes for tests: ``/_sandbox/mutate`` actions ``add_user`` (a collaborator
joins: listed by ``GET /repos/{owner}/{repo}/assignees`` from then on) and ``remove_user`` (a collaborator
leaves: no longer listed nor assignable; issues that name them are left as they are). Neither sends a
webhook: GitHub's ``member`` events are not ones trackbridge subscribes to.
"""

from __future__ import annotations

from typing import Any

from ..core import mutation
from ._base import GitHubBase
from ._state import OUTSIDER_LOGIN, User


class MemberMutations(GitHubBase):
    @mutation("add_user")
    def mutate_add_user(self, login: Any = None, name: Any = None) -> dict[str, Any]:
        if not isinstance(login, str) or not login.strip() or login in self.state.users:
            raise ValueError("login must be new")
        user_id = max((u.id for u in self.state.users.values()), default=1000) + 1
        self.state.users[login] = User(user_id, login, str(name or login), int(self.clock.now()))
        self.touch()
        return {"login": login, "id": user_id}

    @mutation("remove_user")
    def mutate_remove_user(self, login: Any = None) -> dict[str, Any]:
        if login == OUTSIDER_LOGIN or login not in self.state.users:
            raise KeyError(f"no collaborator {login}")
        del self.state.users[login]
        self.touch()
        return {"login": login}


__all__ = ["MemberMutations"]
