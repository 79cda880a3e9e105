"""The data loader of the sessions build_client() creates, against botocore's real data files.

botocore's stock ``Loader`` is the reference throughout: the loader here must accept exactly the
services botocore accepts, load the same models from the same search paths (``AWS_DATA_PATH``
included) and refuse an unknown service with botocore's own error; it must only skip the scan
of every service directory that botocore makes before the first model load.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError

from secret_keyring.providers.aws import build_client
from secret_keyring.providers.aws._loader import DirectLoader, new_session

MODEL_TYPES = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")
#: Names botocore's scan can never list: files beside the service directories, paths, nothing.
NOT_SERVICES = (
    "no-such-service",
    "",
    ".",
    "..",
    "secretsmanager/2017-10-17",
    "../data/secretsmanager",
    "endpoints.json",
    "partitions.json",
    "sdk-default-configuration.json",
)


@pytest.fixture(autouse=True)
def region(no_ambient_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ambient AWS configuration but a region, so clients can be built (nothing is sent)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture
def listdir_calls(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Counts ``os.listdir`` calls (botocore's loader lists directories through it)."""
    calls = 0
    real = os.listdir

    def counting(path: str = ".") -> list[str]:
        nonlocal calls
        calls += 1
        return real(path)

    monkeypatch.setattr(os, "listdir", counting)
    return lambda: calls


@pytest.mark.parametrize("type_name", MODEL_TYPES)
def test_it_accepts_exactly_the_services_botocore_lists(type_name: str) -> None:
    stock = botocore.loaders.create_loader().list_available_services(type_name)
    ours = new_session(None).get_component("data_loader").list_available_services(type_name)
    assert len(stock) > 100  # botocore's real data, not an empty path
    assert [name for name in stock if name not in ours] == []
    assert [name for name in NOT_SERVICES if name in ours] == []
    assert [name for name in NOT_SERVICES if name in stock] == []
    assert None not in ours
    # Iterated, it is botocore's sorted list.
    assert list(ours) == stock
    assert len(ours) == len(stock)
    assert ours[0] == stock[0]
    assert ours == stock


def test_a_client_build_lists_one_directory_per_model_not_every_service(
    listdir_calls: Callable[[], int],
) -> None:
    botocore.session.Session().create_client("secretsmanager")
    stock = listdir_calls()
    build_client(endpoint_url="http://127.0.0.1:9")
    ours = listdir_calls() - stock
    services = len(botocore.loaders.create_loader().list_available_services("service-2"))
    assert stock > services  # the scan this loader skips: one listdir per service directory
    assert ours <= 2  # secretsmanager's own directory, for the two model types


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1"])
def test_the_models_loaded_are_botocores(type_name: str) -> None:
    stock = botocore.loaders.create_loader().load_service_model("secretsmanager", type_name)
    ours = new_session(None).get_component("data_loader")
    assert isinstance(ours, DirectLoader)
    assert ours.load_service_model("secretsmanager", type_name) == stock


def test_a_client_has_botocores_operations_and_api_version() -> None:
    stock = botocore.session.Session().create_client("secretsmanager").meta.service_model
    ours = build_client().meta.service_model
    assert ours.api_version == stock.api_version
    assert ours.operation_names == stock.operation_names


def test_an_unknown_service_is_refused_with_botocores_own_error() -> None:
    with pytest.raises(UnknownServiceError) as stock:
        botocore.session.Session().create_client("no-such-service")
    with pytest.raises(UnknownServiceError) as ours:
        new_session(None).create_client("no-such-service")
    assert str(ours.value) == str(stock.value)
    assert "secretsmanager" in str(ours.value)  # the valid names are listed, as botocore does


def test_aws_data_path_models_are_found_and_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``AWS_DATA_PATH`` comes before botocore's own data: a newer API version of a service
    there is the one loaded, and a service that exists only there is a service."""
    model = botocore.loaders.create_loader().load_service_model("secretsmanager", "service-2")
    model["metadata"] = {**model["metadata"], "apiVersion": "2099-01-01"}
    newer = tmp_path / "models" / "secretsmanager" / "2099-01-01"
    newer.mkdir(parents=True)
    (newer / "service-2.json").write_text(json.dumps(model), encoding="utf-8")
    only_here = tmp_path / "models" / "secret-keyring-test" / "2024-01-01"
    only_here.mkdir(parents=True)
    (only_here / "service-2.json").write_text(json.dumps({"metadata": {}}), encoding="utf-8")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))

    stock = botocore.session.Session().get_component("data_loader")
    ours = new_session(None).get_component("data_loader")
    for loader in (stock, ours):
        names = loader.list_available_services("service-2")
        assert "secret-keyring-test" in names
        assert loader.determine_latest_version("secretsmanager", "service-2") == "2099-01-01"
    assert build_client().meta.service_model.api_version == "2099-01-01"


def test_a_boto3_session_passed_in_keeps_its_own_loader() -> None:
    session = boto3.session.Session(region_name="eu-west-1")
    build_client(session=session)
    assert type(session._session.get_component("data_loader")) is botocore.loaders.Loader


def test_an_assumed_role_session_gets_the_loader_too() -> None:
    """The session behind ``?role_arn=`` is built here too (its STS client is built on the
    base session when credentials are first needed, which this test never does)."""
    client = build_client(role_arn="arn:aws:iam::123456789012:role/reader")
    assert isinstance(client._loader, DirectLoader)
