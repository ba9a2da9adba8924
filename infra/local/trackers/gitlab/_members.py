"""The GitLab sandbox's people changes for tests: ``/_sandbox/mutate`` actions ``add_user`` (a new member of
the project: listed by ``GET /projects/{id}/members/all`` from then on) and ``remove_user`` (a member removed:
no longer listed; notes and issues that name them are left as they are). Neither sends a webhook: member
events are not ones trackbridge subscribes to.
"""

from __future__ import annotations

from typing import Any

from ..core import mutation
from ._base import GitLabBase
from ._state import OUTSIDER_USERNAME, User


class MemberMutations(GitLabBase):
    @mutation("add_user")
    def mutate_add_user(self, username: Any = None, name: Any = None) -> dict[str, Any]:
        if not isinstance(username, str) or not username.strip() or username in self.state.users:
            raise ValueError("username must be new")
        user_id = max((u.id for u in self.state.users.values()), default=1000) + 1
        self.state.users[username] = User(user_id, username, str(name or username), int(self.clock.now()))
        self.touch()
        return {"username": username, "id": user_id}

    @mutation("remove_user")
    def mutate_remove_user(self, username: Any = None) -> dict[str, Any]:
        if username == OUTSIDER_USERNAME or username not in self.state.users:
            raise KeyError(f"no member {username}")
        del self.state.users[username]
        self.touch()
        return {"username": username}


__all__ = ["MemberMutations"]
