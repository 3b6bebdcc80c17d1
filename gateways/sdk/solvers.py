"""Solver plugins for auto-mining: a callable from TaskDetails to TaskSolution or None.

A solver may be a plain function (run in a worker thread, so it may block: call a model,
run a program) or a coroutine function (awaited on the loop). Returning None passes on
the task: the miner stays joined but submits nothing.

    async def my_solver(task: TaskDetails) -> TaskSolution | None:
        answer = await ask_my_model(task.description)
        return TaskSolution(content=answer)

``summary_solver`` is the built-in demo: it summarises the task's description.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections import Counter
from collections.abc import Awaitable, Callable

from gateways.sdk.types import TaskDetails, TaskSolution

Solver = Callable[[TaskDetails], "TaskSolution | Awaitable[TaskSolution | None] | None"]

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]{3,}")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STOP = frozenset(
    {"this", "that", "with", "from", "have", "will", "your", "about", "into", "their",
     "there", "which", "would", "should", "could", "what", "when", "where", "them", "they",
     "than", "then", "these", "those", "been", "were", "also", "each", "task"}
)  # fmt: skip


async def call_solver(solver: Solver, task: TaskDetails) -> TaskSolution | None:
    """Run a sync solver in a thread or await an async one; check what it returned."""
    if inspect.iscoroutinefunction(solver) or inspect.iscoroutinefunction(
        getattr(solver, "__call__", None)  # noqa: B004 - an object with an async __call__
    ):
        result = await solver(task)  # type: ignore[misc]
    else:
        result = await asyncio.to_thread(solver, task)
        if inspect.isawaitable(result):
            result = await result
    if result is not None and not isinstance(result, TaskSolution):
        raise TypeError(f"a solver returns TaskSolution or None, not {type(result).__name__}")
    return result


def clip(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, on a character boundary."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def summary_solver(task: TaskDetails) -> TaskSolution:
    """A deterministic summary of the task: its first sentences and its main words.

    Not intelligence, a demonstration: it shows the shape of a solver, and its solution
    always fits inline (well under 2048 bytes, whatever the task's text).
    """
    text = " ".join(task.description.split())
    sentences = [s for s in _SENTENCE.split(text) if s][:2]
    words = [w.lower()[:32] for w in _WORD.findall(f"{task.title} {text}")]
    keywords = [w for w, _ in Counter(w for w in words if w not in _STOP).most_common(5)]
    summary = clip(" ".join(sentences), 1000) or clip(task.title, 200)
    return TaskSolution(
        content=f"Summary of '{clip(task.title, 200)}': {summary}",
        documentation="summary_solver: first sentences of the description and its main words",
        performance_metrics={"words": len(text.split()), "keywords": keywords},
    )


def echo_solver(task: TaskDetails) -> TaskSolution:
    """Echoes the task's title back: the smallest possible solver, for tests."""
    return TaskSolution(content=task.title)
