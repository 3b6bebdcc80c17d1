"""How the demo tells its caller what it is doing (the CLI draws it with rich)."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def phase(self, text: str) -> None:
        """A new step starts (funding, registering, ...)."""

    def tasks(self, final: int, total: int, detail: str) -> None:
        """While the market runs: how many demo tasks are final, and what is happening."""


class NullReporter:
    def phase(self, text: str) -> None:
        pass

    def tasks(self, final: int, total: int, detail: str) -> None:
        pass
