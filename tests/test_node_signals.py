"""Stopping a node started by ``hiveledger node``: by signals, as operators stop it.

A service manager (systemd's default) or ``timeout`` sends SIGTERM to the node's whole
process group, and a terminal's Ctrl-C sends SIGINT to it: the node and its children
(the sequencer, its check stage) all get the signal at once. The node must stop in
order and exit, with nothing left running and nothing printed about leaks. A sequencer
killed outright must not make the node's stop hang either.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateways.bench.end_to_end import node_counters, wait_ready
from gateways.sdk.node_http import NodeHTTP
from streams.server import free_port

EXIT_DEADLINE_S = 90.0  # a deadline against a hang, not a measure of speed


class RunningNode:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> list[int]:
        """The node's child processes, by /proc (the sequencer and multiprocessing's
        resource tracker), whichever of its threads started them."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
                found += [int(p) for p in (task / "children").read_text().split()]
        return found

    def sequencer_pid(self) -> int:
        for child in self.children():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                return child
        raise AssertionError(f"no sequencer among the node's children: {self.output()[-2000:]}")

    def exit_code(self) -> int:
        try:
            return self.process.wait(EXIT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            pytest.fail(f"the node did not exit:\n{self.output()[-3000:]}")

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.fixture
def running_node(tmp_path: Path) -> Iterator[RunningNode]:
    port = free_port()
    log = tmp_path / "node.log"
    env = {**os.environ, "HIVELEDGER_HOME": str(tmp_path / "home"), "HIVELEDGER_PASSWORD": ""}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateways.cli.main", "node", "--dev",
             "--data", str(tmp_path / "data"), "--http", f"127.0.0.1:{port}"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, as a service or a terminal gives
        )  # fmt: skip
    node = RunningNode(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"node exited at start:\n{node.output()[-3000:]}"
            try:
                wait_ready(NodeHTTP(node.url, timeout=2), deadline)
                break
            except OSError:
                assert time.monotonic() < deadline, node.output()[-3000:]
                time.sleep(0.2)
        yield node
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_group_gone(node: RunningNode) -> None:
    deadline = time.monotonic() + 30
    while node.group_alive():
        assert time.monotonic() < deadline, "processes of the node's group outlived it"
        time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_whole_group_stops_the_node_in_order(
    running_node: RunningNode, sig: signal.Signals
) -> None:
    os.killpg(running_node.process.pid, sig)
    assert running_node.exit_code() == 0
    output = running_node.output()
    assert "node stopped" in output
    assert "sequencer stopped at intake seq" in output, output[-3000:]
    assert "stopping the sequencer" not in output, "the sequencer's stop failed or timed out"
    assert "did not stop" not in output, "the sequencer had to be killed"
    assert "leaked" not in output, output[-3000:]
    wait_group_gone(running_node)


def test_a_killed_sequencer_is_reported_and_the_node_still_stops(
    running_node: RunningNode,
) -> None:
    os.kill(running_node.sequencer_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:  # the health check names the stopped sequencer
        try:
            urllib.request.urlopen(running_node.url + "/healthz", timeout=5).close()
        except urllib.error.HTTPError as error:
            assert error.code == 503
            assert "sequencer stopped" in error.read().decode()
            break
        assert time.monotonic() < deadline, "healthz still says ok"
        time.sleep(0.2)
    assert node_counters(NodeHTTP(running_node.url, timeout=5))  # the node still answers
    os.kill(running_node.process.pid, signal.SIGTERM)
    assert running_node.exit_code() == 0
    assert "node stopped" in running_node.output()
    wait_group_gone(running_node)
