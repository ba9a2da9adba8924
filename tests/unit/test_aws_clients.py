"""AWS client timeouts come from the environment: ``TB_AWS_CONNECT_TIMEOUT_S``, ``TB_AWS_READ_TIMEOUT_S``.

The functions' clients (``trackbridge.runtime.aws``) default to 3 s / 10 s, the local stack's own
(``infra.local.provision``) to 3 s / 30 s; both keep their retry policies, and a bad value fails with an
error that names the variable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from infra.local import provision
from trackbridge.runtime import aws
from trackbridge.runtime.settings import Settings

PATIENT = {"TB_AWS_CONNECT_TIMEOUT_S": "5", "TB_AWS_READ_TIMEOUT_S": "42.5"}
BAD_VALUES = ["0", "-1", "soon", "inf", "nan", ""]


def test_the_functions_clients_keep_lambdas_defaults_and_retries() -> None:
    config = aws.client_config(Settings.from_env({}))

    assert (config.connect_timeout, config.read_timeout) == (3, 10)
    assert config.retries == {"mode": "standard", "max_attempts": 4}


def test_the_environment_sets_the_functions_timeouts() -> None:
    config = aws.client_config(Settings.from_env(PATIENT))

    assert (config.connect_timeout, config.read_timeout) == (5, 42.5)


@pytest.fixture
def fresh_clients() -> Iterator[None]:
    aws.reset_clients()
    yield
    aws.reset_clients()


def test_a_client_built_after_the_environment_changed_carries_its_timeouts(
    monkeypatch: pytest.MonkeyPatch, fresh_clients: None
) -> None:
    # Given
    for name, value in PATIENT.items():
        monkeypatch.setenv(name, value)

    # When: a client is built (no request is sent)
    built = aws.client("dynamodb")

    # Then
    assert (built.meta.config.connect_timeout, built.meta.config.read_timeout) == (5, 42.5)


def test_the_local_stacks_clients_default_to_a_longer_read_timeout() -> None:
    config = provision.client_config({})

    assert (config.connect_timeout, config.read_timeout) == (3, 30)
    assert config.retries == {"mode": "standard", "max_attempts": 3}


def test_the_environment_sets_the_local_stacks_timeouts() -> None:
    config = provision.client_config(PATIENT)

    assert (config.connect_timeout, config.read_timeout) == (5, 42.5)


@pytest.mark.parametrize("name", sorted(PATIENT))
@pytest.mark.parametrize("value", BAD_VALUES)
def test_a_bad_timeout_fails_naming_the_variable(name: str, value: str) -> None:
    for read in (lambda: Settings.from_env({name: value}), lambda: provision.client_config({name: value})):
        with pytest.raises(ValidationError) as raised:
            read()
        (error,) = raised.value.errors()
        assert error["loc"] == (name,)
        assert name in str(raised.value)
