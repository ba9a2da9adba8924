"""The OAuth flow's public names: the callback route, how a caller presents its session nonce, and how long
an issued ``state`` lives. Declared here, in the domain, so the API's routes can name them without
importing the flow (``runtime.jira_oauth``) and its tracker client at cold start."""

from __future__ import annotations

from typing import Final

CALLBACK_PATH: Final = "/v1/oauth/jira/callback"
# How a caller that is not a browser presents the session nonce at the callback (a browser sends the cookie).
SESSION_NONCE_HEADER: Final = "X-Trackbridge-OAuth-Nonce"
SESSION_NONCE_COOKIE: Final = "tb_oauth_nonce"
# How long an issued authorization ``state`` stays valid, in seconds.
STATE_TTL_S: Final = 600

__all__ = ["CALLBACK_PATH", "SESSION_NONCE_COOKIE", "SESSION_NONCE_HEADER", "STATE_TTL_S"]
