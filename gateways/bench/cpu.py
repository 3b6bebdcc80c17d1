"""CPU seconds per process during the end-to-end run, read from /proc (Linux; elsewhere
the figures are simply absent). On two cores the node's processes share the CPU, so where
the CPU goes says more about the next speed-up than wall-clock stage timings do."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (None if unknown)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int, cmdline_has: str = "") -> list[int]:
    """Direct children of ``pid`` whose command line contains ``cmdline_has`` (empty
    where /proc is not there)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else []:
        try:
            stat = entry.read_text()
            cmdline = (entry.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid and cmdline_has in cmdline:
            found.append(int(entry.parent.name))
    return found


class CpuMeter:
    """CPU seconds used between ``start()`` and ``stop()`` by named processes."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def start(self) -> None:
        self._start = {
            name: seconds for name, pid in self.pids.items()
            if (seconds := cpu_seconds(pid)) is not None
        }  # fmt: skip

    def stop(self) -> dict[str, float]:
        for name, before in self._start.items():
            after = cpu_seconds(self.pids[name])
            if after is not None:
                self.used[name] = round(after - before, 2)
        return self.used
