"""Webhook authenticity: GitHub's published test vector, GitLab's token header, Standard Webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from trackbridge.providers.github import GitHubAdapter
from trackbridge.providers.gitlab import GitLabAdapter
from trackbridge.providers.signatures import AppJwt, HubSignature, PlainToken, StandardWebhooks, verify_any


@pytest.fixture(scope="module")
def vector(shared_dir: Path) -> dict[str, Any]:
    return json.loads((shared_dir / "fixtures" / "github" / "signature_test_vector.json").read_text())


@pytest.fixture(scope="module")
def gitlab_headers(shared_dir: Path) -> dict[str, str]:
    spec = json.loads((shared_dir / "fixtures" / "gitlab" / "webhook_headers.json").read_text())
    headers = {h["name"]: h["example"] for h in spec["headers"]}
    headers.update(
        {
            h["name"]: h["example"]
            for h in spec["newer_headers_not_in_the_english_doc_version_above"]["headers"]
        }
    )
    return headers


def test_github_published_vector(vector: dict[str, Any]) -> None:
    body = vector["payload"].encode()
    headers = {vector["header"]: vector["signature"]}
    assert HubSignature().verify(body, headers, [vector["secret"]])
    assert GitHubAdapter.verify_webhook(headers, body, [vector["secret"]])
    assert HubSignature.digest(body, vector["secret"]) == vector["signature"]


def test_github_rejects_tampering_wrong_secret_and_missing_header(vector: dict[str, Any]) -> None:
    body = vector["payload"].encode()
    headers = {vector["header"]: vector["signature"]}
    assert not HubSignature().verify(body + b" ", headers, [vector["secret"]])
    assert not HubSignature().verify(body, headers, ["another secret"])
    assert not HubSignature().verify(body, {}, [vector["secret"]])
    assert not HubSignature().verify(body, {vector["header"]: vector["signature_hex"]}, [vector["secret"]])
    assert not HubSignature().verify(body, {vector["header"]: "sha256=é"}, [vector["secret"]])
    assert not HubSignature().verify(body, headers, [])  # no secret configured: refuse, never accept


def test_github_rotation_accepts_old_and_new_secret_and_any_header_case(vector: dict[str, Any]) -> None:
    body = vector["payload"].encode()
    headers = {"x-hub-signature-256": vector["signature"]}
    assert HubSignature().verify(body, headers, ["new secret", vector["secret"]])
    assert HubSignature().verify(body, headers, [vector["secret"], "new secret"])


def test_jira_admin_webhooks_use_the_same_value_under_another_header(vector: dict[str, Any]) -> None:
    scheme = HubSignature(header="X-Hub-Signature", name="jira-hub-signature")
    body = vector["payload"].encode()
    assert scheme.verify(body, {"X-Hub-Signature": vector["signature"]}, [vector["secret"]])
    assert not scheme.verify(body, {"X-Hub-Signature-256": vector["signature"]}, [vector["secret"]])


def test_gitlab_plain_token(gitlab_headers: dict[str, str]) -> None:
    secret = gitlab_headers["X-Gitlab-Token"]
    body = b'{"object_kind":"issue"}'
    assert PlainToken().verify(body, gitlab_headers, [secret])
    # A hook without a signing token sends the token alone; the documented example signature is fake, and a
    # delivery carrying a signature is judged by it (next test).
    token_only = {k: v for k, v in gitlab_headers.items() if not k.startswith("webhook-")}
    assert GitLabAdapter.verify_webhook(token_only, body, ["old-secret", secret])
    assert not GitLabAdapter.verify_webhook(gitlab_headers, body, ["old-secret", secret])
    assert not PlainToken().verify(body, gitlab_headers, ["something else"])
    assert not PlainToken().verify(
        body, {k: v for k, v in gitlab_headers.items() if k != "X-Gitlab-Token"}, [secret]
    )


def test_standard_webhooks_round_trip_and_freshness(gitlab_headers: dict[str, str]) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    body = b'{"object_kind":"issue","object_attributes":{"iid":1}}'
    msg_id = gitlab_headers["Idempotency-Key"]
    now = 1_744_578_123
    signed = StandardWebhooks().sign(body, secret, now=now, msg_id=msg_id)
    assert set(signed) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert signed["webhook-signature"].startswith("v1,")
    assert StandardWebhooks().verify(body, signed, [secret], now=now + 10)
    # GitLab sends several signatures when a signing token rotates: any one may match
    rotated = {**signed, "webhook-signature": f"v1,AAAA {signed['webhook-signature']}"}
    assert StandardWebhooks().verify(body, rotated, [secret], now=now)
    assert not StandardWebhooks().verify(body, signed, [secret], now=now + 301)  # stale: replay bound
    assert not StandardWebhooks().verify(body + b"x", signed, [secret], now=now)
    assert not StandardWebhooks().verify(body, {**signed, "webhook-id": "other"}, [secret], now=now)
    assert not StandardWebhooks().verify(body, signed, ["whsec_not-base64!"], now=now)
    assert not StandardWebhooks().verify(body, {**signed, "webhook-timestamp": "soon"}, [secret], now=now)
    assert verify_any(GitLabAdapter.signature_schemes, body, signed, [secret], now=now)


def test_a_signed_gitlab_delivery_is_judged_by_its_signature_not_its_token(
    gitlab_headers: dict[str, str],
) -> None:
    # Given: a hook with both a secret token and a signing token, and a delivery signed with the latter
    token = gitlab_headers["X-Gitlab-Token"]
    signing = "whsec_" + base64.b64encode(b"s" * 32).decode()
    body = b'{"object_kind":"issue","object_attributes":{"iid":1}}'
    now = 1_744_578_123
    signed = {"X-Gitlab-Token": token, **StandardWebhooks().sign(body, signing, now=now, msg_id="m-1")}

    # Then: the untouched body passes; a changed body fails although the plain token still matches
    assert GitLabAdapter.verify_webhook(signed, body, [token, signing], now=now)
    assert PlainToken().verify(body + b" ", signed, [token])
    assert not GitLabAdapter.verify_webhook(signed, body + b" ", [token, signing], now=now)


def test_standard_webhooks_refuses_to_sign_with_a_broken_secret() -> None:
    with pytest.raises(ValueError, match="base64"):
        StandardWebhooks().sign(b"{}", "whsec_***", now=1, msg_id="m")


def test_plain_secret_without_prefix_is_raw_bytes() -> None:
    signed = StandardWebhooks().sign(b"{}", "plain", now=100, msg_id="m")
    assert StandardWebhooks().verify(b"{}", signed, ["plain"], now=100)


class TestAppJwt:
    """Jira's REST webhooks of OAuth apps: ``Authorization: JWT <HS256 token>`` of the app's client secret."""

    NOW = 1_780_000_000.0

    @staticmethod
    def token(header: dict[str, object], claims: dict[str, object], secret: str) -> str:
        def part(data: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        unsigned = f"{part(header)}.{part(claims)}"
        signature = hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).digest()
        return f"{unsigned}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def claims(self, **changes: object) -> dict[str, object]:
        return {
            "iss": "jira:cloud",
            "aud": "client",
            "iat": self.NOW,
            "exp": self.NOW + 180,
            "qsh": "context-qsh",
            **changes,
        }

    def test_a_token_of_the_apps_secret_passes_under_either_scheme_name(self) -> None:
        token = self.token({"alg": "HS256", "typ": "JWT"}, self.claims(), "s3cret")
        for scheme in ("JWT", "Bearer"):
            assert AppJwt().verify(
                b"{}", {"Authorization": f"{scheme} {token}"}, ["old", "s3cret"], now=self.NOW
            )
        assert AppJwt().sign(b"{}", "s3cret", now=self.NOW)["Authorization"].startswith("JWT ")
        assert AppJwt().verify(b"{}", AppJwt().sign(b"{}", "s3cret", now=self.NOW), ["s3cret"], now=self.NOW)

    @pytest.mark.parametrize(
        ("header", "changes", "secret"),
        [
            ({"alg": "HS256"}, {}, "another"),
            ({"alg": "none"}, {}, "s3cret"),
            ({"alg": "HS512"}, {}, "s3cret"),
            ({"alg": "HS256"}, {"exp": 1_779_999_000}, "s3cret"),
            ({"alg": "HS256"}, {"exp": None}, "s3cret"),
            ({"alg": "HS256"}, {"qsh": "a-request-hash"}, "s3cret"),
        ],
        ids=["other secret", "alg none", "other alg", "expired", "no exp", "other qsh"],
    )
    def test_anything_else_is_refused(
        self, header: dict[str, object], changes: dict[str, object], secret: str
    ) -> None:
        claims = {k: v for k, v in self.claims(**changes).items() if v is not None}
        token = self.token(header, claims, secret)
        assert not AppJwt().verify(b"{}", {"Authorization": f"JWT {token}"}, ["s3cret"], now=self.NOW)

    @pytest.mark.parametrize(
        "value", ["", "JWT", "JWT a.b", "Basic abc.def.ghi", "JWT !!.??.**", "JWT e30.e30.e30"]
    )
    def test_malformed_headers_are_refused(self, value: str) -> None:
        assert not AppJwt().verify(b"{}", {"Authorization": value}, ["s3cret"], now=self.NOW)

    def test_no_secret_refuses_everything(self) -> None:
        token = self.token({"alg": "HS256"}, self.claims(), "s3cret")
        assert not AppJwt().verify(b"{}", {"Authorization": f"JWT {token}"}, [], now=self.NOW)
