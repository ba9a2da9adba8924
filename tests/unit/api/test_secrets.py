"""How connection secrets are written and deleted, against a recording fake Secrets Manager client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from trackbridge.domain.connections import TokenCredentials
from trackbridge.domain.errors import DependencyFailure
from trackbridge.runtime.secrets import RECOVERY_WINDOW_DAYS, ConnectionSecrets


def aws_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} with a value-ish message"}}, "Op")


class FakeSecretsManager:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: str | None = None

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.append((name, kwargs))
        if self.fail_with:
            raise aws_error(self.fail_with)

    def create_secret(self, **kwargs: Any) -> None:
        self._record("create_secret", kwargs)
        if kwargs["Name"] in self.values:
            raise aws_error("ResourceExistsException")
        self.values[kwargs["Name"]] = kwargs["SecretString"]

    def put_secret_value(self, **kwargs: Any) -> None:
        self._record("put_secret_value", kwargs)
        if kwargs["SecretId"] not in self.values:
            raise aws_error("ResourceNotFoundException")
        self.values[kwargs["SecretId"]] = kwargs["SecretString"]

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        self._record("get_secret_value", kwargs)
        if kwargs["SecretId"] not in self.values:
            raise aws_error("ResourceNotFoundException")
        return {"SecretString": self.values[kwargs["SecretId"]]}

    def delete_secret(self, **kwargs: Any) -> None:
        self._record("delete_secret", kwargs)
        if self.values.pop(kwargs["SecretId"], None) is None:
            raise aws_error("ResourceNotFoundException")


def secrets(client: FakeSecretsManager, *, force_delete: bool = False) -> ConnectionSecrets:
    return ConnectionSecrets(client, prefix="trackbridge/prod/", ttl_s=300, force_delete=force_delete)


def test_names_follow_the_contract() -> None:
    store = secrets(FakeSecretsManager())
    assert store.credentials_name("acme", "conn_x") == "trackbridge/prod/acme/connections/conn_x"
    assert store.webhook_name("acme", "conn_x") == "trackbridge/prod/acme/connections/conn_x/webhook"


def test_new_secrets_take_one_call_and_rotation_keeps_the_previous_webhook_secret() -> None:
    client = FakeSecretsManager()
    store = secrets(client)
    store.put_credentials("acme", "c", TokenCredentials(token=SecretStr("t1")), new=True)
    assert [name for name, _ in client.calls] == ["create_secret"]
    store.put_credentials("acme", "c", TokenCredentials(token=SecretStr("t2")), new=False)
    assert store.credentials("acme", "c") == {"token": "t2"}
    for n in range(1, 4):
        store.put_webhook_secret("acme", "c", SecretStr(f"w{n}"), new=n == 1)
    assert json.loads(client.values[store.webhook_name("acme", "c")]) == ["w3", "w2"]
    assert store.webhook_secrets("acme", "c") == ["w3", "w2"]


def test_reads_are_cached_until_a_write() -> None:
    client = FakeSecretsManager()
    store = secrets(client)
    store.put_credentials("acme", "c", TokenCredentials(token=SecretStr("t1")), new=True)
    store.credentials("acme", "c")
    store.credentials("acme", "c")
    assert sum(1 for name, _ in client.calls if name == "get_secret_value") == 1
    store.put_credentials("acme", "c", TokenCredentials(token=SecretStr("t2")), new=False)
    assert store.credentials("acme", "c") == {"token": "t2"}


def test_absent_secrets_read_as_nothing() -> None:
    store = secrets(FakeSecretsManager())
    assert store.credentials("acme", "missing") is None
    assert store.webhook_secrets("acme", "missing") == []


@pytest.mark.parametrize(
    ("force", "expected"),
    [(True, {"ForceDeleteWithoutRecovery": True}), (False, {"RecoveryWindowInDays": RECOVERY_WINDOW_DAYS})],
)
def test_delete_uses_a_recovery_window_on_aws_only(force: bool, expected: dict[str, Any]) -> None:
    client = FakeSecretsManager()
    store = secrets(client, force_delete=force)
    store.put_credentials("acme", "c", TokenCredentials(token=SecretStr("t")), new=True)
    store.delete("acme", "c")  # the webhook secret never existed: that is fine
    deletes = [kwargs for name, kwargs in client.calls if name == "delete_secret"]
    assert len(deletes) == 3  # credentials, webhook secrets, OAuth tokens
    for kwargs in deletes:
        assert {k: v for k, v in kwargs.items() if k != "SecretId"} == expected
    assert RECOVERY_WINDOW_DAYS == 7


def test_failures_become_retryable_errors_without_aws_messages() -> None:
    client = FakeSecretsManager()
    client.fail_with = "ThrottlingException"
    store = secrets(client)
    with pytest.raises(DependencyFailure) as caught:
        store.put_credentials("acme", "c", TokenCredentials(token=SecretStr("t-SENTINEL")), new=True)
    assert caught.value.details == {"aws_code": "ThrottlingException"}
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert "t-SENTINEL" not in str(caught.value)
    with pytest.raises(DependencyFailure):
        store.credentials("acme", "c")
