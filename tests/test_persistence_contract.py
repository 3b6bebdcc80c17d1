"""eventsourcing's own recorder contract tests, run unchanged against a real nats-server.

Each test gets a stream and subject prefix of its own on the session's server, so
notification ids start at 1 as the contract expects; the streams are deleted afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from streams.jetstream import delete_stream
from streams.loop_thread import LoopThread
from streams.persistence import (
    Factory,
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamTrackingRecorder,
)
from streams.server import EmbeddedNatsServer

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def admin(nats_server: EmbeddedNatsServer) -> Iterator[tuple[LoopThread, Any]]:
    """A connection of the tests' own, to delete their streams."""
    import nats

    loop = LoopThread(name="test-admin")
    nc = loop.run(nats.connect(nats_server.url), timeout=10)
    yield loop, nc
    loop.run(nc.close(), timeout=10)
    loop.close()


class JetStreamCase:
    """Gives each test a unique stream and prefix, and a factory over them."""

    env: Environment
    _factory: Factory | None

    @pytest.fixture(autouse=True)
    def _jetstream(
        self, nats_server: EmbeddedNatsServer, admin: tuple[LoopThread, Any]
    ) -> Iterator[None]:
        suffix = uuid4().hex[:12]
        self.stream_name = f"TEST_{suffix}"
        self.env = Environment(
            "TestCase",
            {
                "PERSISTENCE_MODULE": "streams.persistence",
                Factory.NATS_URL: nats_server.url,
                Factory.LEDGER_STREAM: self.stream_name,
                Factory.LEDGER_PREFIX: f"t{suffix}.ledger",
            },
        )
        self._factory = None
        yield
        if self._factory is not None:
            self._factory.close()
        loop, nc = admin
        for name in (self.stream_name, f"{self.stream_name}_SNAPSHOTS"):
            loop.run(delete_stream(nc, name), timeout=10)

    def jetstream_factory(self) -> Factory:
        if self._factory is None:
            factory = InfrastructureFactory.construct(self.env)
            assert isinstance(factory, Factory)
            self._factory = factory
        return self._factory


class TestAggregateRecorder(JetStreamCase, AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.jetstream_factory().aggregate_recorder()

    @pytest.mark.slow
    def test_performance(self) -> None:
        super().test_performance()


class TestApplicationRecorder(JetStreamCase, ApplicationRecorderTestCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.jetstream_factory().application_recorder()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()

    @pytest.mark.slow
    def test_performance(self) -> None:
        super().test_performance()

    @pytest.mark.slow
    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        super().test_concurrent_no_conflicts(initial_position)

    @pytest.mark.slow
    def test_concurrent_throughput(self) -> None:
        super().test_concurrent_throughput()


class TestTrackingRecorder(JetStreamCase, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.jetstream_factory().tracking_recorder()


class TestProcessRecorder(JetStreamCase, ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.jetstream_factory().process_recorder()

    @pytest.mark.slow
    def test_performance(self) -> None:
        super().test_performance()


class TestNonInterleavingNotificationIDs(JetStreamCase, NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> ApplicationRecorder:
        return self.jetstream_factory().application_recorder()


class CustomTrackingRecorder(JetStreamTrackingRecorder):
    """For the factory test: a tracking recorder class given by argument or topic."""


class TestFactory(JetStreamCase, InfrastructureFactoryTestCase[Factory]):
    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return JetStreamAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return JetStreamApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return JetStreamTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return CustomTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return JetStreamProcessRecorder


del AggregateRecorderTestCase
del ApplicationRecorderTestCase
del TrackingRecorderTestCase
del ProcessRecorderTestCase
del NonInterleavingNotificationIDsBaseCase
del InfrastructureFactoryTestCase
