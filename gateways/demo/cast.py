"""Who takes part in the demo, and how good their work is: all of it from the seed.

Keys are Ed25519 keys held in memory, each derived from SHA-256("hiveledger-demo:<seed>:
<role>:<index>"), so ``--seed`` (with the same sizes) reproduces the same addresses, the
same tasks, the same "true quality" of every miner's work on every task and the same votes.
A validator's role in the key names its side and the team's size, so no key ever changes
sides between runs on one node. Randomness comes
from ``random.Random`` seeded with strings (stable across processes and Python builds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from dataclasses import dataclass, field

from domain.market_types import DifficultyLevel, TaskType
from domain.money import UNIT
from streams.keys import Keypair

MINER_NAMES = (
    "ada", "babbage", "curie", "dijkstra", "euler", "fermat", "gauss", "hopper", "ishango",
    "jacquard", "knuth", "lamport", "minsky", "noether", "ostrom", "pascal", "quine",
    "ramanujan", "shannon", "turing", "ullman", "vaughan", "wirth", "yao", "zuse",
)  # fmt: skip
PUBLISHER_NAMES = ("acme-labs", "orbital-data", "north-bank")
DIFFICULTY_SHIFT = {
    DifficultyLevel.BEGINNER: 6,
    DifficultyLevel.INTERMEDIATE: 0,
    DifficultyLevel.ADVANCED: -5,
    DifficultyLevel.EXPERT: -10,
}
HONEST_NOISE = 5  # points either side of the true quality: honest votes always agree
FRIEND_SPREAD = 3  # the friend is steadily mediocre; others vary by 10 points a task
COLLUDER_SHARE = 0.8  # the colluding pair's stake, as a fraction of the honest stake


@dataclass(frozen=True)
class TaskIdea:
    title: str
    description: str
    task_type: TaskType
    difficulty: DifficultyLevel
    reward_tokens: int
    stake_tokens: int
    threshold: int


CATALOGUE = (
    TaskIdea("Review a token-bucket rate limiter",
             "Find race conditions in a token-bucket rate limiter shared by worker threads. "
             "Point at the lines, explain the interleaving, and propose a fix with a test.",
             TaskType.CODE_ANALYSIS, DifficultyLevel.INTERMEDIATE, 40, 2, 55),
    TaskIdea("Audit an escrow contract",
             "Audit an escrow contract that releases funds on a two-of-three approval. "
             "List reentrancy, rounding and authorisation issues by severity.",
             TaskType.SECURITY_AUDIT, DifficultyLevel.ADVANCED, 60, 3, 60),
    TaskIdea("Explain a sales anomaly",
             "Weekly sales fell 18 percent in one region while traffic rose. Summarise the "
             "likely causes from the attached figures and say what to check first.",
             TaskType.DATA_ANALYSIS, DifficultyLevel.BEGINNER, 25, 1, 50),
    TaskIdea("Speed up a route planner",
             "A route planner runs Dijkstra on every request over a static road graph. "
             "Propose an algorithm that answers in milliseconds and estimate its memory.",
             TaskType.ALGORITHM_OPTIMIZATION, DifficultyLevel.EXPERT, 80, 4, 65),
    TaskIdea("Schedule five talks",
             "Five speakers, three rooms, two slots, and a list of who cannot overlap. "
             "Find a schedule or prove there is none, step by step.",
             TaskType.LOGIC_REASONING, DifficultyLevel.INTERMEDIATE, 30, 1, 55),
    TaskIdea("Write release notes",
             "Turn a raw changelog of forty commits into release notes for users: group "
             "the changes, drop the noise, flag anything that breaks compatibility.",
             TaskType.GENERAL_TASK, DifficultyLevel.BEGINNER, 20, 1, 50),
    TaskIdea("Find the leak in a cache",
             "A long-running service grows by 2 MB an hour. Read its LRU cache code and "
             "explain where memory is retained and why eviction never frees it.",
             TaskType.CODE_ANALYSIS, DifficultyLevel.ADVANCED, 50, 2, 60),
    TaskIdea("Check a login flow",
             "Review a password login flow with rate limiting and reset tokens. Report "
             "anything that allows account takeover, with the request sequence.",
             TaskType.SECURITY_AUDIT, DifficultyLevel.INTERMEDIATE, 45, 2, 55),
)  # fmt: skip


def derive_key(seed: int, role: str, index: int) -> Keypair:
    digest = hashlib.sha256(f"hiveledger-demo:{seed}:{role}:{index}".encode()).digest()
    return Keypair.from_seed32(digest)


def rng(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (seed, *parts)))


@dataclass(frozen=True)
class Publisher:
    name: str
    keypair: Keypair


@dataclass(frozen=True)
class Miner:
    index: int
    name: str
    keypair: Keypair
    skill: float  # the miner's typical quality, 0..100
    specializations: tuple[TaskType, ...]
    generalist: bool  # takes any type of task
    friend: bool  # the colluders' friend
    max_concurrent: int
    min_success: float
    check_interval: float


@dataclass(frozen=True)
class Validator:
    index: int
    name: str
    keypair: Keypair
    stake: int  # units
    colluder: bool


@dataclass(frozen=True)
class Cast:
    seed: int
    publishers: list[Publisher]
    miners: list[Miner]
    validators: list[Validator]
    ideas: list[TaskIdea]
    names: dict[str, str] = field(default_factory=dict)  # address -> name

    @property
    def friend(self) -> Miner:
        return next(m for m in self.miners if m.friend)

    @property
    def colluders(self) -> list[Validator]:
        return [v for v in self.validators if v.colluder]

    @property
    def honest(self) -> list[Validator]:
        return [v for v in self.validators if not v.colluder]

    def name_of(self, address: str | None) -> str:
        if not address:
            return ""
        return self.names.get(address, address[:12] + "…")

    def with_stakes(self, stakes: dict[str, int]) -> Cast:
        """The same cast with some validators' stakes changed (address -> units)."""
        validators = [
            dataclasses.replace(v, stake=stakes.get(v.keypair.address, v.stake))
            for v in self.validators
        ]
        return Cast(self.seed, self.publishers, self.miners, validators, self.ideas, self.names)


def pick_ideas(seed: int, count: int) -> list[TaskIdea]:
    start = seed % len(CATALOGUE)
    return [CATALOGUE[(start + i) % len(CATALOGUE)] for i in range(count)]


def _miner(seed: int, index: int, friend: bool, types: list[TaskType], tasks: int) -> Miner:
    r = rng(seed, "miner", index)
    name = MINER_NAMES[index % len(MINER_NAMES)] + ("" if index < len(MINER_NAMES) else str(index))
    generalist = friend or index % 3 == 0
    specs = tuple(r.sample(types, min(2, len(types))))
    return Miner(
        index=index, name=name, keypair=derive_key(seed, "miner", index),
        skill=r.uniform(44, 48) if friend else r.uniform(52, 80),
        specializations=specs, generalist=generalist, friend=friend,
        max_concurrent=tasks if friend else r.randint(1, max(1, min(3, tasks))),
        min_success=0.0 if friend else r.choice((0.0, 0.2, 0.4)),
        check_interval=round(r.uniform(0.3, 0.7), 2),
    )  # fmt: skip


def _validators(seed: int, count: int) -> list[Validator]:
    """The last two validators collude; their stake is COLLUDER_SHARE of the honest stake,
    so together they hold ~44% of the demo's validator stake: under half."""
    r = rng(seed, "validators")
    honest = [r.randint(30, 50) * UNIT for _ in range(count - 2)]
    pair = int(sum(honest) * COLLUDER_SHARE) // 2
    stakes = [*honest, pair, pair]
    validators = []
    for i, stake in enumerate(stakes):
        colluder = i >= count - 2
        # The key depends on the role and the team's size: another --validators with the
        # same seed must not turn an honest validator of an earlier run into a colluder.
        role = f"validator-{count}-{'colluder' if colluder else 'honest'}"
        validators.append(Validator(
            index=i, name=f"validator-{i + 1}" + ("-c" if colluder else ""),
            keypair=derive_key(seed, role, i), stake=stake, colluder=colluder,
        ))  # fmt: skip
    return validators


def build_cast(seed: int, miners: int, validators: int, tasks: int) -> Cast:
    if miners < 2 or validators < 3 or tasks < 1:
        raise ValueError("the demo needs at least 2 miners, 3 validators and 1 task")
    ideas = pick_ideas(seed, tasks)
    types = sorted({idea.task_type for idea in ideas})
    friend = rng(seed, "friend").randrange(miners)
    cast = Cast(
        seed=seed,
        publishers=[
            Publisher(PUBLISHER_NAMES[i], derive_key(seed, "publisher", i))
            for i in range(1 if tasks == 1 else 2)
        ],
        miners=[_miner(seed, i, i == friend, types, tasks) for i in range(miners)],
        validators=_validators(seed, validators),
        ideas=ideas,
    )
    for person in (*cast.publishers, *cast.miners, *cast.validators):
        cast.names[person.keypair.address] = person.name
    return cast


def true_quality(seed: int, task_index: int, miner: Miner, idea: TaskIdea) -> int:
    """How good ``miner``'s work on task ``task_index`` really is (what honest validators
    see, give or take HONEST_NOISE)."""
    r = rng(seed, "quality", task_index, miner.index)
    spread = FRIEND_SPREAD if miner.friend else 10
    value = miner.skill + DIFFICULTY_SHIFT[idea.difficulty] + r.uniform(-spread, spread)
    return max(5, min(95, round(value)))


def honest_score(seed: int, validator: Validator, task_index: int, miner: Miner,
                 idea: TaskIdea) -> int:  # fmt: skip
    quality = true_quality(seed, task_index, miner, idea)
    noise = rng(seed, "vote", validator.index, task_index, miner.index).randint(
        -HONEST_NOISE, HONEST_NOISE
    )
    return max(0, min(100, quality + noise))


def vote_for(cast: Cast, validator: Validator, task_index: int, miner_address: str) -> int:
    """The score ``validator`` gives: 100 from a colluder to the friend, else honest."""
    miner = next((m for m in cast.miners if m.keypair.address == miner_address), None)
    if miner is None:  # not one of ours (another client on the same node): a fair middle
        return 50
    if validator.colluder and miner.friend:
        return 100
    return honest_score(cast.seed, validator, task_index, miner, cast.ideas[task_index])
