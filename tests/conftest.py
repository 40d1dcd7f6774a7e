"""Shared fixtures; the network is blocked unless --run-network is given."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

INPUT = Path(__file__).parent / "input_data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-network", action="store_true", help="run tests marked network (need internet)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-network"):
        return
    skip = pytest.mark.skip(reason="needs internet; run with --run-network")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _block_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any outbound connection fail loudly in offline tests."""
    if "network" in request.keywords:
        return

    def guard(*args: object, **kwargs: object) -> None:
        raise RuntimeError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket, "create_connection", guard)


@pytest.fixture(autouse=True)
def _network_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the parsed-network cache out of the working tree (one cache per test session)."""
    monkeypatch.setenv("DGCOVERAGE_CACHE", str(tmp_path_factory.getbasetemp() / "network_cache"))


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generator's embedded default restricted to 莞城街道 + 东城街道 (a small city)."""
    from dgcoverage.demo.synthetic import build_demo

    root = tmp_path_factory.mktemp("small_city")
    build_demo(root, town_codes=["441900006", "441900003"])
    return root


@pytest.fixture
def helsinki_pbf() -> Path:
    return INPUT / "Helsinki.osm.pbf"
