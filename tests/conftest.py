"""Shared fixtures: a real nats-server on a free loopback port with its own store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.server import EmbeddedNatsServer


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNatsServer]:
    """One nats-server for the whole session; tests isolate themselves by stream names."""
    store: Path = tmp_path_factory.mktemp("nats")
    with EmbeddedNatsServer(store) as server:
        yield server


@pytest.fixture
def fresh_nats_server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    """A nats-server of the test's own, for tests that restart or break it."""
    with EmbeddedNatsServer(tmp_path / "nats") as server:
        yield server
